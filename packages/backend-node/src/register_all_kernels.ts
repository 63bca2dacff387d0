// Registers every sluice kernel for tfjs-node's 'tensorflow' backend: the only
// module of the package with side effects, like tfjs backends' own.
import {registerKernels} from './base';

registerKernels();

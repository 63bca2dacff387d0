// The one module with a side effect: importing the package registers its kernels.
import {registerKernels} from './base';

registerKernels();

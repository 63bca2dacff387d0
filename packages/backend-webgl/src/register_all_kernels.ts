import {registerKernels} from './base';

registerKernels();

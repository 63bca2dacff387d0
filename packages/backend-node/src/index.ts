/**
 * sluice kernels for tfjs-node's 'tensorflow' backend. Importing the package
 * registers them; the same kernels serve tfjs-node and tfjs-node-gpu, since
 * both packages provide the 'tensorflow' backend through one backend class.
 *
 * ```js
 * const tf = require('@tensorflow/tfjs-node');   // or '@tensorflow/tfjs-node-gpu'
 * require('@sluice/backend-node');
 * const {linearCrossEntropy} = require('@sluice/core');
 * ```
 */
import './register_all_kernels';

export {KERNEL_CONFIGS, registerKernels} from './base';

/**
 * sluice kernels for TensorFlow.js's 'webgl' backend. Importing the package
 * registers them; ops without a webgl kernel here run their composites.
 *
 * ```js
 * import '@tensorflow/tfjs-backend-webgl';
 * import '@sluice/backend-webgl';
 * ```
 */
import './register_all_kernels';

export {KERNEL_CONFIGS, registerKernels} from './base';

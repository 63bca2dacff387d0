/**
 * sluice kernels for TensorFlow.js's 'cpu' backend. Importing the package
 * registers them; `@sluice/core`'s ops then use them whenever 'cpu' is active.
 *
 * ```js
 * import '@tensorflow/tfjs-backend-cpu';
 * import '@sluice/backend-cpu';
 * import {linearCrossEntropy} from '@sluice/core';
 * ```
 */
import './register_all_kernels';

export {KERNEL_CONFIGS, registerKernels} from './base';
export * as shared from './shared';

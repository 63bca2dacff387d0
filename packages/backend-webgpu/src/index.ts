/**
 * @sluice/backend-webgpu: importing it registers sluice's WGSL kernels for
 * tfjs's 'webgpu' backend, as tfjs backends register theirs.
 */
import './register_all_kernels';

export {KERNEL_CONFIGS, registerKernels} from './base';
export {SLUICE_WEBGPU_GRAD_BLOCK_BYTES, SLUICE_WEBGPU_LCE_BACKWARD, SLUICE_WEBGPU_MAX_BINDING_BYTES,
        SLUICE_WEBGPU_MAX_WORKGROUPS} from './flags_webgpu';

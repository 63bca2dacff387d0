/**
 * Importing @sluice/backend-webgpu registers every sluice kernel for 'webgpu'
 * (base.ts's KERNEL_CONFIGS). Kept apart from the kernel suites so that a
 * part which leaves those to another part (the browser leaves them to
 * node-webgpu: test/suites.ts) still checks its own bundle's registration.
 */
import * as tf from '@tensorflow/tfjs-core';
import {Constraints, describeWithFlags} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {SluiceExpertCombine, SluiceExpertDispatch, SluiceGroupedMatMul, SluiceGroupedMatMulGrad,
        SluiceLinearCrossEntropy, SluiceLinearCrossEntropyGrad, SluiceTopOneSuppression} from '@sluice/core';

const WEBGPU: Constraints = {predicate: env => env.backendName === 'webgpu'};

// Named here, not read from KERNEL_CONFIGS: a kernel dropped from that list must fail this suite.
const KERNELS = [SluiceLinearCrossEntropy, SluiceLinearCrossEntropyGrad, SluiceTopOneSuppression, SluiceExpertDispatch,
                 SluiceGroupedMatMul, SluiceGroupedMatMulGrad, SluiceExpertCombine];

/** Registers the suite; test entries that run a 'webgpu' env call it. */
export function describeWebGPURegistration() {
  describeWithFlags('sluice webgpu kernels', WEBGPU, () => {
    for (const name of KERNELS) {
      it(`${name} is registered for webgpu`, () => {
        expect(tf.getKernel(name, 'webgpu')).withContext(name).toBeDefined();
      });
    }
  });
}

// Node jasmine entry for tfjs's 'webgpu' backend through Dawn (the `webgpu`
// npm package, kept external to the bundle: it is a native addon), with
// sluice's WGSL kernels, and the composite on the same backend. Run by
// scripts/test.mjs with the environment of scripts/webgpu_env.mjs.
// Dawn first: tfjs-backend-webgpu registers only if navigator.gpu exists.
import '@sluice/backend-webgpu/node/dawn';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-webgpu';
import '@sluice/backend-webgpu';

import * as tf from '@tensorflow/tfjs-core';
import {setTestEnvs} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {describeMixtureOfExpertsConformance} from '@sluice/moe/testing';
import {describeExpertDispatchConformance, describeLinearCrossEntropyConformance, describeTopOneSuppressionConformance} from '@sluice/core/testing';
import {describeFuzzSuite} from '@sluice/core/testing';
import {describeWebGPULinearCrossEntropy} from '@sluice/backend-webgpu/linear_cross_entropy_webgpu_test';
import {describeWebGPUExpertDispatch} from '@sluice/backend-webgpu/expert_dispatch_webgpu_test';
import {describeBadInputCatalogue} from './reliability/bad_input_catalogue';
import {describeNumericalExtremes} from './reliability/numerical_extremes';

// As tfjs-backend-webgpu's own test env: small ops stay on the GPU.
setTestEnvs([{name: 'webgpu', backendName: 'webgpu', flags: {WEBGPU_CPU_FORWARD: false}, isDataSync: true}]);
describeWebGPULinearCrossEntropy();
describeWebGPUExpertDispatch();
describeLinearCrossEntropyConformance();
describeTopOneSuppressionConformance();
describeExpertDispatchConformance();
describeFuzzSuite();
describeMixtureOfExpertsConformance();
describeBadInputCatalogue();
describeNumericalExtremes();

import {describeLeakAndLimitTests} from './reliability/leak_and_limit'; describeLeakAndLimitTests();
// Exiting with GPU work in flight crashes Dawn (SIGSEGV at exit): drain the queue first.
afterAll(async () => {
  const backend = tf.findBackend('webgpu') as unknown as {device?: {queue: {onSubmittedWorkDone(): Promise<void>}}};
  await backend?.device?.queue.onSubmittedWorkDone();
});

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

import {defineSuites} from './suites';

// As tfjs-backend-webgpu's own test env: small ops stay on the GPU.
setTestEnvs([{name: 'webgpu', backendName: 'webgpu', flags: {WEBGPU_CPU_FORWARD: false}, isDataSync: true}]);
defineSuites('node-webgpu');

// Exiting with GPU work in flight crashes Dawn (SIGSEGV at exit): drain the queue first.
afterAll(async () => {
  const backend = tf.findBackend('webgpu') as unknown as {device?: {queue: {onSubmittedWorkDone(): Promise<void>}}};
  await backend?.device?.queue.onSubmittedWorkDone();
});

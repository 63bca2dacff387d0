/**
 * The one list of test suites, and which environment runs each. Every env
 * entry (node_cpu.ts, node_tensorflow.ts, node_webgpu.ts, browser_entry.ts)
 * registers its backends and test env, then calls `defineSuites(env)`.
 * Suites live in the package they test (`<package>/testing` entries, or a
 * backend's `*_test.ts`); a suite that needs a platform module (node:fs,
 * tfjs-node, the trainer's files) is passed in by its env file as an extra,
 * so that this list stays importable in Node and in the browser bundle.
 */
import {describeCpuLinearCrossEntropy} from '@sluice/backend-cpu/linear_cross_entropy_cpu_test';
import {describeWebGLLinearCrossEntropy} from '@sluice/backend-webgl/linear_cross_entropy_webgl_test';
import {describeWebGPUExpertDispatch} from '@sluice/backend-webgpu/expert_dispatch_webgpu_test';
import {describeWebGPULinearCrossEntropy} from '@sluice/backend-webgpu/linear_cross_entropy_webgpu_test';
import {describeWebGPULimits} from '@sluice/backend-webgpu/limits_webgpu_test';
import {describeCompositeWarning, describeCoreBadInputs, describeExpertDispatchConformance, describeFuzzSuite,
        describeLinearCrossEntropyConformance, describeNumericalExtremes,
        describeTopOneSuppressionConformance} from '@sluice/core/testing';
import {describeSafetensors} from '@sluice/interop/testing/safetensors_test';
import {describeLeakChecks, describeMixtureOfExpertsConformance, describeMoeBadInputs,
        describeRoutingConventions} from '@sluice/moe/testing';
import {describeTransformersMapping} from '@sluice/moe/testing/transformers_mapping_test';
import {describeMoeIndexedDbRoundTrip} from '@sluice/moe/testing/moe_browser_io_test';
import {describeLinearCrossEntropyHead, describeRegularizerBadInputs,
        describeRegularizersConformance} from '@sluice/regularizers/testing';

export type TestEnvName = 'node-cpu'|'node-tensorflow'|'node-webgpu'|'browser';

export interface Suite {
  name: string;
  define: () => void;
  /** The env entries that run it; backend-specific suites also filter by backend themselves. */
  envs: readonly TestEnvName[];
}

const EVERYWHERE: readonly TestEnvName[] = ['node-cpu', 'node-tensorflow', 'node-webgpu', 'browser'];

export const SUITES: readonly Suite[] = [
  {name: 'linearCrossEntropy conformance', define: describeLinearCrossEntropyConformance, envs: EVERYWHERE},
  {name: 'topOneSuppression conformance', define: describeTopOneSuppressionConformance, envs: EVERYWHERE},
  {name: 'expert dispatch conformance', define: describeExpertDispatchConformance, envs: EVERYWHERE},
  {name: 'fuzzer', define: describeFuzzSuite, envs: EVERYWHERE},
  {name: 'mixtureOfExperts conformance', define: describeMixtureOfExpertsConformance,
   envs: ['node-cpu', 'node-tensorflow', 'node-webgpu']},
  {name: 'MoE routing conventions', define: describeRoutingConventions, envs: EVERYWHERE},
  {name: 'regularizers conformance', define: describeRegularizersConformance, envs: ['node-cpu', 'browser']},
  {name: 'linearCrossEntropyHead', define: describeLinearCrossEntropyHead, envs: EVERYWHERE},
  {name: 'bad inputs: core', define: describeCoreBadInputs, envs: EVERYWHERE},
  {name: 'bad inputs: moe', define: describeMoeBadInputs, envs: EVERYWHERE},
  {name: 'bad inputs: regularizers', define: describeRegularizerBadInputs, envs: EVERYWHERE},
  {name: 'composite warning', define: describeCompositeWarning, envs: EVERYWHERE},
  {name: 'numerical extremes', define: describeNumericalExtremes, envs: EVERYWHERE},
  {name: 'leaks over 1000 training steps', define: describeLeakChecks, envs: EVERYWHERE},
  {name: 'webgpu limits (Node)', define: describeWebGPULimits, envs: ['node-webgpu']},
  {name: 'webgpu fused CE', define: describeWebGPULinearCrossEntropy, envs: ['node-webgpu', 'browser']},
  {name: 'webgpu dispatch', define: describeWebGPUExpertDispatch, envs: ['node-webgpu', 'browser']},
  {name: 'webgl fused CE', define: describeWebGLLinearCrossEntropy, envs: ['browser']},
  {name: 'cpu fused CE', define: describeCpuLinearCrossEntropy, envs: ['node-cpu', 'browser']},
  {name: 'safetensors', define: describeSafetensors, envs: ['node-cpu', 'node-tensorflow', 'browser']},
  {name: 'transformers weight mapping', define: describeTransformersMapping, envs: ['node-cpu', 'node-tensorflow', 'browser']},
  {name: 'moe indexeddb:// round trip', define: describeMoeIndexedDbRoundTrip, envs: ['browser']},
];

/** Defines, in list order, every suite of `env`, then the env's platform-bound extras. */
export function defineSuites(env: TestEnvName, extras: ReadonlyArray<Omit<Suite, 'envs'>> = []) {
  for (const suite of SUITES) {
    if (suite.envs.includes(env)) suite.define();
  }
  for (const suite of extras) suite.define();
}

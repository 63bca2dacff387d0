/**
 * The one list of test suites, and which environment runs each. Every env
 * entry (node_cpu.ts, node_tensorflow.ts, node_webgpu.ts, browser_entry.ts)
 * registers its backends and test env, then calls `defineSuites(env)`.
 * Suites live in the package they test (`<package>/testing` entries, or a
 * backend's `*_test.ts`); a suite that needs a platform module (node:fs,
 * tfjs-node, the trainer's files) is passed in by its env file as an extra,
 * so that this list stays importable in Node and in the browser bundle.
 * A suite's `browserWebGPULeaves` says what the browser's webgpu env leaves
 * to node-webgpu (printed in one line when the browser part starts).
 */
import {describeCpuLinearCrossEntropy} from '@sluice/backend-cpu/linear_cross_entropy_cpu_test';
import {describeWebGLLinearCrossEntropy} from '@sluice/backend-webgl/linear_cross_entropy_webgl_test';
import {describeWebGPUExpertDispatch} from '@sluice/backend-webgpu/expert_dispatch_webgpu_test';
import {describeWebGPULinearCrossEntropy} from '@sluice/backend-webgpu/linear_cross_entropy_webgpu_test';
import {describeWebGPULimits} from '@sluice/backend-webgpu/limits_webgpu_test';
import {describeWebGPURegistration} from '@sluice/backend-webgpu/registration_webgpu_test';
import {describeCompositeWarning, describeCoreBadInputs, describeExpertDispatchConformance, describeFuzzSuite,
        describeLinearCrossEntropyConformance, describeLinearCrossEntropyContract, describeNumericalExtremes,
        describeTopOneSuppressionConformance, withoutCompositeCopies} from '@sluice/core/testing';
import {describeSafetensors} from '@sluice/interop/testing/safetensors_test';
import {describeLeakChecks, describeMixtureOfExpertsConformance, describeMoeBadInputs,
        describeRoutingConventions} from '@sluice/moe/testing';
import {describeTransformersMapping} from '@sluice/moe/testing/transformers_mapping_test';
import {describeMoeIndexedDbRoundTrip} from '@sluice/moe/testing/moe_browser_io_test';
import {describeLinearCrossEntropyHead, describeRegularizerBadInputs,
        describeRegularizersConformance} from '@sluice/regularizers/testing';
import {setTestEnvs, TEST_ENVS} from '@tensorflow/tfjs-core/dist/jasmine_util';

export type TestEnvName = 'node-cpu'|'node-tensorflow'|'node-webgpu'|'browser';

export interface Suite {
  name: string;
  define: () => void;
  /** The env entries that run it; backend-specific suites also filter by backend themselves. */
  envs: readonly TestEnvName[];
  /**
   * What the browser's webgpu test env leaves to node-webgpu: the whole suite, or its composite-path copy
   * (the registered-kernel path stays). See BROWSER_WEBGPU_LEAVES_WHY; such a suite must run on node-webgpu.
   */
  browserWebGPULeaves?: 'suite'|'composite copy';
}

/**
 * Why the browser's webgpu env leaves suites to node-webgpu: both run tfjs-backend-webgpu with sluice's
 * WGSL kernels on Dawn + SwiftShader, so a second run of the same numerics on the same kernels proves
 * nothing new, and it was the largest share of the browser part's time. The browser's webgpu env keeps
 * what a browser bundle can get wrong on its own: the kernels' registration, every op's conformance
 * suite on the registered kernels, linearCrossEntropyHead, the bad-input catalogues, MoE conventions,
 * the composite warning, and the regularizers (which node-webgpu does not run).
 */
const BROWSER_WEBGPU_LEAVES_WHY = 'node-webgpu runs them on the same tfjs-webgpu programs and sluice WGSL kernels ' +
    '(Dawn + SwiftShader in both)';

const EVERYWHERE: readonly TestEnvName[] = ['node-cpu', 'node-tensorflow', 'node-webgpu', 'browser'];

export const SUITES: readonly Suite[] = [
  {name: 'linearCrossEntropy conformance', define: () => describeLinearCrossEntropyConformance(undefined, {contract: false}),
   envs: EVERYWHERE, browserWebGPULeaves: 'composite copy'},
  {name: 'linearCrossEntropy second-round contract', define: describeLinearCrossEntropyContract, envs: EVERYWHERE,
   browserWebGPULeaves: 'suite'},
  {name: 'topOneSuppression conformance', define: describeTopOneSuppressionConformance, envs: EVERYWHERE,
   browserWebGPULeaves: 'composite copy'},
  {name: 'expert dispatch conformance', define: describeExpertDispatchConformance, envs: EVERYWHERE,
   browserWebGPULeaves: 'composite copy'},
  {name: 'fuzzer', define: describeFuzzSuite, envs: EVERYWHERE, browserWebGPULeaves: 'suite'},
  {name: 'mixtureOfExperts conformance', define: describeMixtureOfExpertsConformance,
   envs: ['node-cpu', 'node-tensorflow', 'node-webgpu']},
  {name: 'MoE routing conventions', define: describeRoutingConventions, envs: EVERYWHERE},
  {name: 'regularizers conformance', define: describeRegularizersConformance, envs: ['node-cpu', 'browser']},
  {name: 'linearCrossEntropyHead', define: describeLinearCrossEntropyHead, envs: EVERYWHERE},
  {name: 'bad inputs: core', define: describeCoreBadInputs, envs: EVERYWHERE},
  {name: 'bad inputs: moe', define: describeMoeBadInputs, envs: EVERYWHERE},
  {name: 'bad inputs: regularizers', define: describeRegularizerBadInputs, envs: EVERYWHERE},
  {name: 'composite warning', define: describeCompositeWarning, envs: EVERYWHERE},
  {name: 'numerical extremes', define: describeNumericalExtremes, envs: EVERYWHERE,
   browserWebGPULeaves: 'composite copy'},
  // The browser's webgl env keeps its 1000 steps (no other part runs webgl); its webgpu env leaves them to node-webgpu.
  {name: 'leaks over 1000 training steps', define: describeLeakChecks, envs: EVERYWHERE, browserWebGPULeaves: 'suite'},
  // Registration apart from the kernel suites: the browser bundle's own registration is checked there too.
  {name: 'webgpu kernel registration', define: describeWebGPURegistration, envs: ['node-webgpu', 'browser']},
  {name: 'webgpu limits (Node)', define: describeWebGPULimits, envs: ['node-webgpu']},
  {name: 'webgpu fused CE', define: describeWebGPULinearCrossEntropy, envs: ['node-webgpu', 'browser'],
   browserWebGPULeaves: 'suite'},
  {name: 'webgpu dispatch', define: describeWebGPUExpertDispatch, envs: ['node-webgpu', 'browser'],
   browserWebGPULeaves: 'suite'},
  {name: 'webgl fused CE', define: describeWebGLLinearCrossEntropy, envs: ['browser']},
  {name: 'cpu fused CE', define: describeCpuLinearCrossEntropy, envs: ['node-cpu', 'browser']},
  {name: 'safetensors', define: describeSafetensors, envs: ['node-cpu', 'node-tensorflow', 'browser']},
  {name: 'transformers weight mapping', define: describeTransformersMapping, envs: ['node-cpu', 'node-tensorflow', 'browser']},
  {name: 'moe indexeddb:// round trip', define: describeMoeIndexedDbRoundTrip, envs: ['browser']},
];

// What the browser leaves to node-webgpu must really run there.
for (const suite of SUITES) {
  if (suite.browserWebGPULeaves && !(suite.envs.includes('node-webgpu') && suite.envs.includes('browser'))) {
    throw new Error(`test/suites.ts: '${suite.name}' has browserWebGPULeaves but envs ${JSON.stringify(suite.envs)} ` +
                    'lack node-webgpu or browser');
  }
}

/** Defines `define`'s suites on every registered test env except `name` (describeWithFlags reads them as it runs). */
function withoutTestEnv(name: string, define: () => void) {
  const all = [...TEST_ENVS];
  setTestEnvs(all.filter(e => e.name !== name));
  try {
    define();
  } finally {
    setTestEnvs(all);
  }
}

/** One line for the log: what the browser's webgpu env leaves to node-webgpu, and why. */
function browserWebGPULeavesLine(): string {
  const named = (kind: Suite['browserWebGPULeaves']) =>
      SUITES.filter(s => s.envs.includes('browser') && s.browserWebGPULeaves === kind).map(s => s.name).join(', ');
  return `webgpu env: left to node-webgpu (${BROWSER_WEBGPU_LEAVES_WHY}): the suites ${named('suite')}; ` +
         `the composite-path copies of ${named('composite copy')}`;
}

/** Defines, in list order, every suite of `env`, then the env's platform-bound extras. */
export function defineSuites(env: TestEnvName, extras: ReadonlyArray<Omit<Suite, 'envs'>> = []) {
  const browserWebGPU = env === 'browser' && TEST_ENVS.some(e => e.name === 'webgpu');
  if (browserWebGPU) console.log(browserWebGPULeavesLine());
  for (const suite of SUITES) {
    if (!suite.envs.includes(env)) continue;
    const leaves = browserWebGPU ? suite.browserWebGPULeaves : undefined;
    if (leaves === 'suite') {
      withoutTestEnv('webgpu', suite.define);
    } else if (leaves === 'composite copy') {
      withoutCompositeCopies(['webgpu'], suite.define);
    } else {
      suite.define();
    }
  }
  for (const suite of extras) suite.define();
}

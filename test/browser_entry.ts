// Karma entry (bundled to an IIFE by scripts/test.mjs): the conformance suites
// over cpu, webgl and webgpu in one headless Chromium.
//
// WebGPU needs an adapter, which is only known asynchronously, and an IIFE
// bundle has no top-level await; so this file wraps karma-jasmine's
// `__karma__.start`: karma calls it once every file is loaded, we probe the GPU
// there, register the test envs and define the suites, then let jasmine run.
// Without an adapter the webgpu env is replaced by one pending spec that says
// why, so the skip shows in the log and in the counts.

// tfjs-core's ESM entry registers no gradients or chained ops: do it here.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import '@sluice/backend-cpu';
import '@sluice/backend-webgl';
import '@sluice/backend-webgpu';

import {setTestEnvs, TestEnv} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {describeMoeIndexedDbRoundTrip} from '@sluice/moe/testing/moe_browser_io_test';
import {describeRegularizersConformance} from '@sluice/regularizers/testing';
import {describeLinearCrossEntropyConformance} from '@sluice/core/testing';
import {describeExpertDispatchConformance, describeTopOneSuppressionConformance} from '@sluice/core/testing';
import {describeFuzzSuite} from '@sluice/core/testing';
import {describeWebGPULinearCrossEntropy} from '@sluice/backend-webgpu/linear_cross_entropy_webgpu_test';
import {describeWebGPUExpertDispatch} from '@sluice/backend-webgpu/expert_dispatch_webgpu_test';
import {describeWebGLLinearCrossEntropy} from '@sluice/backend-webgl/linear_cross_entropy_webgl_test';
import {describeLeakAndLimitTests} from './reliability/leak_and_limit';
import {describeSafetensors} from '@sluice/interop/testing/safetensors_test';
import {describeTransformersMapping} from '@sluice/moe/testing/transformers_mapping_test';
import {describeBadInputCatalogue} from './reliability/bad_input_catalogue';
import {describeNumericalExtremes} from './reliability/numerical_extremes';

const ADAPTER_TIMEOUT_MS = 30_000;

type Probe = {ok: true, info: string}|{ok: false, reason: string};

interface GpuAdapterLike {
  info?: Record<string, unknown>;
  isFallbackAdapter?: boolean;
  requestAdapterInfo?: () => Promise<Record<string, unknown>>;
}
interface GpuLike {
  requestAdapter(options?: {powerPreference?: string}): Promise<GpuAdapterLike|null>;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms / 1000} s`)), ms);
    promise.then(v => {
      clearTimeout(timer);
      resolve(v);
    }, e => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Asks for an adapter the way tfjs-backend-webgpu does (high-performance). */
async function probeWebGPU(): Promise<Probe> {
  const gpu = (navigator as unknown as {gpu?: GpuLike}).gpu;
  if (gpu == null) {
    return {
      ok: false,
      reason: 'navigator.gpu is undefined (WebGPU not exposed; Chromium on Linux needs --enable-unsafe-webgpu ' +
          'and a secure context such as http://localhost)',
    };
  }
  try {
    const adapter = await withTimeout(gpu.requestAdapter({powerPreference: 'high-performance'}), ADAPTER_TIMEOUT_MS,
                                      'navigator.gpu.requestAdapter()');
    if (adapter == null) {
      return {ok: false, reason: 'navigator.gpu.requestAdapter() returned null (no usable GPU or software adapter)'};
    }
    let info: Record<string, unknown> = adapter.info ?? {};
    if (adapter.info == null && adapter.requestAdapterInfo != null) {
      info = await adapter.requestAdapterInfo();
    }
    const fields = ['vendor', 'architecture', 'device', 'description']
                       .map(k => `${k}=${JSON.stringify(info[k] ?? '')}`)
                       .join(' ');
    const fallback = adapter.isFallbackAdapter ?? (info as {isFallbackAdapter?: boolean}).isFallbackAdapter;
    return {ok: true, info: `${fields}${fallback ? ' (fallback adapter)' : ''}`};
  } catch (e) {
    return {ok: false, reason: `navigator.gpu.requestAdapter() failed: ${(e as Error).message ?? e}`};
  }
}

function webglRenderer(): string {
  try {
    const gl = document.createElement('canvas').getContext('webgl2');
    if (gl == null) {
      return 'no WebGL2 context (the webgl env will fail)';
    }
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
    const vendor = ext ? gl.getParameter(ext.UNMASKED_VENDOR_WEBGL) : gl.getParameter(gl.VENDOR);
    const version = gl.getParameter(gl.VERSION);
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    return `${version}; vendor ${vendor}; renderer ${renderer}`;
  } catch (e) {
    return `probing WebGL2 threw: ${(e as Error).message ?? e}`;
  }
}

/** Logs skipped specs with their reason (karma's results carry no reason). */
function reportPendingReasons() {
  jasmine.getEnv().addReporter({
    specDone(result) {
      if (result.status === 'pending') {
        console.log(`skipped: ${result.fullName}: ${result.pendingReason || 'no reason given'}`);
      }
    },
  });
}

async function defineSuites() {
  console.log(`sluice browser tests on ${navigator.userAgent}`);
  console.log(`WebGL2: ${webglRenderer()}`);
  const webgpu = await probeWebGPU();
  console.log(webgpu.ok ? `WebGPU adapter: ${webgpu.info}` : `WebGPU unavailable: ${webgpu.reason}`);

  const envs: TestEnv[] = [
    {name: 'cpu', backendName: 'cpu', isDataSync: true},
    // WEBGL_CPU_FORWARD false: small ops really run on the GPU instead of being forwarded to cpu.
    {name: 'webgl', backendName: 'webgl', flags: {WEBGL_VERSION: 2, WEBGL_CPU_FORWARD: false}, isDataSync: true},
  ];
  if (webgpu.ok) {
    envs.push({name: 'webgpu', backendName: 'webgpu', flags: {WEBGPU_CPU_FORWARD: false}, isDataSync: false});
  }
  console.log(`test envs: ${envs.map(e => e.name).join(', ')}` +
              (webgpu.ok ? '' : ' (webgpu skipped: see above)'));
  setTestEnvs(envs);
  reportPendingReasons();

  describeLinearCrossEntropyConformance();
  describeTopOneSuppressionConformance();
  describeExpertDispatchConformance();
  describeFuzzSuite();
  describeRegularizersConformance();
  describeMoeIndexedDbRoundTrip();
  describeWebGPULinearCrossEntropy();
  describeWebGPUExpertDispatch();
  describeWebGLLinearCrossEntropy();
  describeLeakAndLimitTests();
  describeBadInputCatalogue();
  describeNumericalExtremes();
  describeSafetensors();
  describeTransformersMapping();

  if (!webgpu.ok) {
    describe('webgpu env', () => {
      it('runs the conformance suites', () => pending(`webgpu skipped: ${webgpu.reason}`));
    });
  }
}

interface KarmaLike {
  start: (...args: unknown[]) => void;
  error: (message: string) => void;
}
const karma = (window as unknown as {__karma__?: KarmaLike}).__karma__;
if (karma == null || typeof karma.start !== 'function') {
  throw new Error('test/browser_entry.ts must be loaded by karma after karma-jasmine (no window.__karma__.start)');
}
const startJasmine = karma.start;
karma.start = function(this: unknown, ...args: unknown[]) {
  defineSuites().then(() => startJasmine.apply(this, args), (e: Error) => {
    karma.error(`test/browser_entry.ts: defining the suites failed: ${e?.stack ?? e}`);
  });
};

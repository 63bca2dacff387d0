/**
 * The composite warning (issue 14, item 4): an op that falls back to its
 * composite on a backend whose sluice package was not imported warns once per
 * (op, backend), naming the package; the flag SLUICE_WARN_COMPOSITE silences
 * it; a forced composite and a backend with no sluice package stay quiet.
 *
 * "Not imported" is made real: the active backend's sluice kernels are
 * unregistered for the spec and registered again after it. The quiet-backend
 * case registers a plain backend under a name no sluice package knows, with
 * the cpu backend's stock kernels (cpu env only: it builds a MathBackendCPU).
 */
import * as tf from '@tensorflow/tfjs-core';
import {ALL_ENVS, Constraints, describeWithFlags} from '@tensorflow/tfjs-core/dist/jasmine_util';

import {SLUICE_FORCE_COMPOSITE, SLUICE_WARN_COMPOSITE} from '../flags';
import {resetCompositeWarnings, SLUICE_BACKEND_PACKAGES} from '../internal';
import {linearCrossEntropy} from '../ops/linear_cross_entropy';
import {topOneSuppression} from '../ops/top_one_suppression';

const PLAIN_BACKEND = 'sluice-test-plain';

/** The sluice warnings console.warn received (other warnings are tfjs's business). */
function sluiceWarnings(spy: jasmine.Spy): string[] {
  return spy.calls.allArgs().map(args => String(args[0])).filter(m => m.startsWith('sluice:'));
}

/** Runs both ops, forward and (for the fused CE) backward, disposing everything. */
function runOps() {
  tf.tidy(() => {
    const logits = tf.tensor2d([0.5, -1, 2, 0, 1, 3], [2, 3]);
    topOneSuppression(logits, 0.5);
    topOneSuppression(logits, 0.5);
    const classifier = tf.tensor2d([0.1, 0.2, -0.3, 0.4, 0.5, -0.6], [3, 2]);
    const labels = tf.tensor1d([0, 2], 'int32');
    tf.grad(h => linearCrossEntropy(h as tf.Tensor2D, classifier, labels) as tf.Scalar)(
        tf.tensor2d([1, 2, 3, 4], [2, 2]));
  });
}

/** Runs `body` with the active backend's sluice kernels unregistered, as if its package was never imported. */
function withoutSluiceKernels(body: () => void) {
  const backend = tf.getBackend();
  const removed = tf.getKernelsForBackend(backend).filter(k => k.kernelName.startsWith('Sluice'));
  for (const k of removed) tf.unregisterKernel(k.kernelName, backend);
  try {
    body();
  } finally {
    for (const k of removed) tf.registerKernel(k);
  }
}

export function describeCompositeWarning(constraints: Constraints = ALL_ENVS) {
  describeWithFlags('composite warning', constraints, env => {
    let warn: jasmine.Spy;
    beforeEach(() => {
      resetCompositeWarnings();
      warn = spyOn(console, 'warn');
    });
    afterEach(() => {
      tf.env().set(SLUICE_WARN_COMPOSITE, true);
      tf.env().set(SLUICE_FORCE_COMPOSITE, false);
      resetCompositeWarnings();
    });

    const pkg = SLUICE_BACKEND_PACKAGES[env.backendName];

    it('warns once per (op, backend), naming the package, when the backend package is missing', () => {
      if (pkg == null) {
        pending(`backend '${env.backendName}' has no sluice package: nothing to warn about there`);
      }
      const before = tf.memory().numTensors;
      withoutSluiceKernels(() => {
        runOps();
        runOps();
      });
      const got = sluiceWarnings(warn);
      // topOneSuppression (forward twice per run), linearCrossEntropy (forward + its Grad kernel): one each.
      expect(got.length).toBe(2);
      expect(got[0]).toContain('topOneSuppression');
      expect(got[1]).toContain('linearCrossEntropy');
      for (const message of got) {
        expect(message).toContain(`'${env.backendName}'`);
        expect(message).toContain(`import '${pkg}'`);
        expect(message).toContain(SLUICE_WARN_COMPOSITE);
      }
      expect(tf.memory().numTensors).toBe(before);
    });

    it('says nothing when the flag SLUICE_WARN_COMPOSITE is false', () => {
      tf.env().set(SLUICE_WARN_COMPOSITE, false);
      withoutSluiceKernels(runOps);
      expect(sluiceWarnings(warn)).toEqual([]);
    });

    it('says nothing when SLUICE_FORCE_COMPOSITE is set (with or without the kernels)', () => {
      tf.env().set(SLUICE_FORCE_COMPOSITE, true);
      runOps();
      withoutSluiceKernels(runOps);
      expect(sluiceWarnings(warn)).toEqual([]);
    });

    it('says nothing when the backend package is imported', () => {
      if (pkg == null) pending(`backend '${env.backendName}' has no sluice package`);
      runOps();
      expect(sluiceWarnings(warn)).toEqual([]);
    });

    it('says nothing on a backend for which no sluice package exists', () => {
      if (env.backendName !== 'cpu') {
        pending('the plain test backend is built from the cpu backend; it runs in the cpu envs');
      }
      const cpu = tf.findBackend('cpu') as unknown as {constructor: new () => tf.KernelBackend};
      const stock = tf.getKernelsForBackend('cpu').filter(k => !k.kernelName.startsWith('Sluice'));
      tf.registerBackend(PLAIN_BACKEND, () => new cpu.constructor());
      for (const k of stock) tf.registerKernel({...k, backendName: PLAIN_BACKEND});
      try {
        tf.setBackend(PLAIN_BACKEND);
        runOps();
      } finally {
        tf.setBackend('cpu');
        for (const k of stock) tf.unregisterKernel(k.kernelName, PLAIN_BACKEND);
        tf.removeBackend(PLAIN_BACKEND);
      }
      expect(sluiceWarnings(warn)).toEqual([]);
    });
  });
}

/**
 * The frame every op's conformance suite runs in: once through whatever the
 * active backend has (its sluice kernels, else the composite) and once with
 * the composite forced, each on every test env that matches `constraints`.
 */
import * as tf from '@tensorflow/tfjs-core';
import {Constraints, describeWithFlags, TestEnv} from '@tensorflow/tfjs-core/dist/jasmine_util';

import {SLUICE_FORCE_COMPOSITE} from '../flags';

/** Test envs (by name) that get no composite-path copy while `withoutCompositeCopies` defines suites. */
let compositeLeftOut: ReadonlySet<string> = new Set();

/**
 * Defines suites (`define`) without the composite-path copy on the test envs
 * named: for a test part whose env runs the same backend as another part that
 * keeps the copy (the browser's webgpu env and node-webgpu; see test/suites.ts).
 * The registered-kernel path is defined as usual.
 */
export function withoutCompositeCopies(testEnvNames: readonly string[], define: () => void) {
  const saved = compositeLeftOut;
  compositeLeftOut = new Set(testEnvNames);
  try {
    define();
  } finally {
    compositeLeftOut = saved;
  }
}

export function describeKernelAndComposite(suite: string, kernelNames: readonly string[], constraints: Constraints,
                                           body: (env: TestEnv, forceComposite: boolean) => void) {
  const leftOut = compositeLeftOut;
  for (const forceComposite of [false, true]) {
    const label = forceComposite ? 'composite' : 'registered kernel or composite';
    const matches: Constraints = !forceComposite || leftOut.size === 0 ? constraints : {
      ...constraints,
      predicate: env => !leftOut.has(env.name) && (constraints.predicate?.(env) ?? true),
    };
    describeWithFlags(`${suite} conformance (${label})`, matches, env => {
      beforeEach(() => tf.env().set(SLUICE_FORCE_COMPOSITE, forceComposite));
      afterEach(() => tf.env().set(SLUICE_FORCE_COMPOSITE, false));

      it('runs the path it is named after', () => {
        for (const name of kernelNames) {
          if (!forceComposite && tf.getKernel(name, tf.getBackend()) == null) {
            console.log(`  note: no ${name} kernel on '${tf.getBackend()}': the composite runs`);
          }
        }
        expect(tf.getBackend()).toBe(env.backendName);
      });

      body(env, forceComposite);
    });
  }
}

/**
 * The frame every op's conformance suite runs in: once through whatever the
 * active backend has (its sluice kernels, else the composite) and once with
 * the composite forced, each on every test env that matches `constraints`.
 */
import * as tf from '@tensorflow/tfjs-core';
import {Constraints, describeWithFlags, TestEnv} from '@tensorflow/tfjs-core/dist/jasmine_util';

import {SLUICE_FORCE_COMPOSITE} from '../flags';

export function describeKernelAndComposite(suite: string, kernelNames: readonly string[], constraints: Constraints,
                                           body: (env: TestEnv, forceComposite: boolean) => void) {
  for (const forceComposite of [false, true]) {
    const label = forceComposite ? 'composite' : 'registered kernel or composite';
    describeWithFlags(`${suite} conformance (${label})`, constraints, env => {
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

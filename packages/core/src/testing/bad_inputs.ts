/**
 * The bad-input runner (issue 9, part 1): each package's testing entry holds a
 * counted table of wrong arguments to its public functions and layer configs,
 * run here. Each entry must throw an Error whose message holds the
 * argument's name, what was expected and what was given, and must leave
 * `tf.memory().numTensors` where it was once the tensors the entry made
 * itself are disposed (so an op that leaks on its error path fails here, even
 * though op()'s scope would hide it inside a tidy). Every table runs once
 * through the registered kernels and once with the composite forced.
 *
 * The op suites hold more cases per op; the tables overlap them on purpose
 * and add what they lacked (options that are not objects, values out of
 * int32 range, quoted strings for numbers, device-side values).
 */
import * as tf from '@tensorflow/tfjs-core';
import {ALL_ENVS, Constraints} from '@tensorflow/tfjs-core/dist/jasmine_util';

import {SluiceExpertCombine, SluiceExpertDispatch, SluiceGroupedMatMul, SluiceLinearCrossEntropy,
        SluiceTopOneSuppression} from '../kernel_names';
import {describeKernelAndComposite} from './kernel_and_composite';

/** What an entry makes: every tensor and layer goes through here, and is disposed after the call. */
export class Made {
  private readonly tensors: tf.Tensor[] = [];
  private readonly disposables: Array<{dispose(): unknown, built?: boolean}> = [];

  add<T extends tf.Tensor>(t: T): T {
    this.tensors.push(t);
    return t;
  }
  f(shape: number[]): tf.Tensor {
    return this.add(tf.zeros(shape));
  }
  i32(values: number[], shape?: number[]): tf.Tensor {
    return this.add(tf.tensor(values, shape ?? [values.length], 'int32'));
  }
  /** Computed on the backend (a GPU buffer on webgl/webgpu), not uploaded from a JS array. */
  onDevice(values: number[], shape?: number[]): tf.Tensor {
    return this.add(tf.tidy(() => tf.add(tf.tensor(values, shape ?? [values.length], 'int32'), tf.scalar(0, 'int32'))));
  }
  disposed(shape: number[]): tf.Tensor {
    const t = tf.zeros(shape);
    t.dispose();
    return t;
  }
  /** A layer (or anything with dispose) the entry made; layers are disposed only once built. */
  track<T extends {dispose(): unknown, built?: boolean}>(thing: T): T {
    this.disposables.push(thing);
    return thing;
  }
  dispose() {
    tf.dispose(this.tensors);
    for (const d of this.disposables) {
      if (d.built !== false) d.dispose();
    }
  }
}

export interface BadInput {
  name: string;
  call: (m: Made) => unknown;
  /** Fragments the message must contain: the argument, the expectation, the actual value. */
  argument: string;
  expected: string;
  actual: string;
  /** Why the entry does not apply on this backend, or null when it does. */
  skip?: (backendName: string) => string|null;
}

/** The skip of entries whose value lives on the device: webgpu does not read it back to validate it. */
export const HOST_VALUES_ONLY = (backend: string) => backend === 'webgpu' ?
    'webgpu: values already on the GPU are not read back for validation (a synchronous read stalls the ' +
        'device; documented in packages/core/src/internal/host_values.ts), so this device-side value is not range-checked' :
    null;

const KERNELS = [SluiceLinearCrossEntropy, SluiceTopOneSuppression, SluiceExpertDispatch, SluiceGroupedMatMul,
                 SluiceExpertCombine];

/** Every entry of `entries`, once through the registered kernels and once with the composite forced, on every env. */
export function describeBadInputs(title: string, entries: BadInput[], constraints: Constraints = ALL_ENVS) {
  const names = new Set(entries.map(c => c.name));
  describeKernelAndComposite(`Bad-input catalogue: ${title} (${entries.length} entries)`, KERNELS, constraints, env => {
    it('has distinct entry names', () => expect(names.size).toBe(entries.length));

    for (const c of entries) {
      it(c.name, () => {
        const reason = c.skip?.(env.backendName);
        if (reason != null) {
          pending(reason);
          return;
        }
        const made = new Made();
        const before = tf.memory().numTensors;
        let error: unknown = null, result: unknown;
        try {
          result = c.call(made);
        } catch (e) {
          error = e;
        }
        if (error == null) {
          try {
            tf.dispose(result as tf.TensorContainer);
          } catch {
            // not a tensor container: nothing to free
          }
        }
        made.dispose();
        expect(error instanceof Error).withContext(`${c.name}: expected an Error, got ${
            error == null ? `a result (${String(result)})` : String(error)}`).toBe(true);
        const message = error instanceof Error ? error.message : '';
        for (const [what, fragment] of [['argument', c.argument], ['expected value', c.expected],
                                        ['actual value', c.actual]]) {
          expect(message).withContext(`the message should name the ${what}`).toContain(fragment);
        }
        expect(tf.memory().numTensors).withContext('tensors left behind by the failed call').toBe(before);
      });
    }
  });
}

/**
 * 'cpu'-only checks of the linear cross-entropy kernel: a confident token's
 * loss (lse − z_y with z_y far above every other logit) is tiny and must never
 * come out negative. lse is built from float32 tile logits, so z_y has to be
 * the same float32 value: a float64 z_y that float32 rounds down would exceed
 * lse and give a loss of about −1e-6. Every backend checks loss >= 0 in the
 * contract suite; here the cpu kernel is held to 1e-4 of the loss itself.
 */
import * as tf from '@tensorflow/tfjs-core';
import {Constraints, describeWithFlags} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {linearCrossEntropy, SLUICE_FORCE_COMPOSITE, SluiceLinearCrossEntropy} from '@sluice/core';
import {backendTolerance, confidentTokens, expectClose, lceReferenceForward, LceRefInput} from '@sluice/core/testing';

const CPU: Constraints = {predicate: env => env.backendName === 'cpu'};

/** z_y in float64 from the float32 inputs (the old kernel's value), optionally capped. */
function labelLogit64(r: LceRefInput, i: number, cap: number): number {
  let x = 0;
  for (let k = 0; k < r.d; ++k) x += r.embeddings[i * r.d + k] * r.classifier[r.labels[i] * r.d + k];
  return cap > 0 ? cap * Math.tanh(x / cap) : x;
}

export function describeCpuLinearCrossEntropy() {
  describeWithFlags('linearCrossEntropy cpu kernel', CPU, env => {
    beforeEach(() => tf.env().set(SLUICE_FORCE_COMPOSITE, false));

    for (const softcap of [0, 30]) {
      it(`gives a confident token a loss >= 0 that matches float64 (softcap ${softcap})`, async () => {
        expect(tf.getKernel(SluiceLinearCrossEntropy, 'cpu')).withContext('the cpu kernel is registered').not.toBeNull();
        const r = {...confidentTokens(64, 7), softcap};
        const fwd = lceReferenceForward(r);
        // The data must be able to fail: tokens whose float64 z_y lies above its float32 value by more than the
        // true loss, i.e. that a float64 z_y against float32 tiles would have given a negative loss.
        const exposed = Array.from({length: r.n}, (_, i) => i).filter(i => {
          const z = labelLogit64(r, i, softcap);
          return z - Math.fround(z) > fwd.losses[i];
        });
        expect(exposed.length).withContext('test data: label logits that float32 rounds down').toBeGreaterThan(4);
        const losses = linearCrossEntropy(tf.tensor2d(r.embeddings, [r.n, r.d]), tf.tensor2d(r.classifier, [r.v, r.d]),
                                          tf.tensor1d(r.labels, 'int32'), {softcap, reduction: 'none'});
        const values = await losses.data();
        const negative = Array.from(values).findIndex(l => !(l >= 0));
        expect(negative).withContext(`loss[${negative}] = ${values[negative]} should be >= 0`).toBe(-1);
        expect(Math.max(...fwd.losses)).withContext('the reference losses are those of confident tokens').toBeLessThan(1e-6);
        expectClose(values, fwd.losses, backendTolerance(env.backendName), 'per-token losses');
        // Tighter, relative to each loss itself: the tile logits' own float32 rounding moves exp(z_j − z_y) by
        // ~1e-6 relatively; a float64 z_y would move the loss by ~1e-6 absolutely, 100 times the loss.
        const worst = Math.max(...Array.from(values, (l, i) => Math.abs(l - fwd.losses[i]) / fwd.losses[i]));
        expect(worst).withContext('largest relative error of a per-token loss').toBeLessThan(1e-4);
        losses.dispose();
      });
    }
  });
}

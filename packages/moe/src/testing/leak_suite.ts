/**
 * Leaks: 1,000 optimizer steps of a tiny MoE model with the fused head —
 * token embeddings (sluice's embeddingLookup), a residual mixtureOfExperts
 * layer (@sluice/moe: top-2 of 4 experts, router z-loss, aux-loss-free bias
 * updates, i.e. routeTopK → expertDispatch → groupedMatMul → expertCombine)
 * and linearCrossEntropy with MaxSup, trained by momentum SGD (one slot per
 * variable) — keep the engine's tensor and byte counts and the GPU backends'
 * buffer/texture bytes exactly flat after a warm-up. Snapshots are taken
 * every 50 steps right after the loss and the layer's metrics are read back
 * (so the GPU queue has drained and deferred releases are done); every
 * snapshot from step 50 to step 1000 must equal step 50's.
 *
 * Envs: cpu, tensorflow (tfjs-node) and webgpu (Dawn) in Node; webgl in
 * karma (the browser's cpu env is covered by Node's, its webgpu env by
 * node-webgpu's: test/suites.ts). The model is
 * this small because SwiftShader pays about a millisecond per dispatch and a
 * step is ~100 dispatches; the demo trainer's TinyMoELM (attention, Adam)
 * is ~500 and would take 10+ minutes there.
 */
import * as tf from '@tensorflow/tfjs-core';
import {Constraints, describeWithFlags} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {linearCrossEntropy} from '@sluice/core';
import {embeddingLookup} from '@sluice/core/internal';
import {mixtureOfExperts} from '../mixture_of_experts';
import {withFastMatMul} from './fast_matmul';

export const STEPS = 1000;
export const WARMUP = 50;
const EVERY = 50;
const V = 13, D = 8, N = 16;

const isNode = () => tf.env().getBool('IS_NODE');
const LEAK_ENVS: Constraints = {predicate: env => isNode() || env.backendName !== 'cpu'};

/** What must stay flat: the engine's counts plus whatever the backend reports about its GPU memory. */
export function memorySnapshot(): Record<string, number> {
  const m = tf.memory() as unknown as Record<string, unknown>;
  const out: Record<string, number> = {};
  for (const key of ['numTensors', 'numDataBuffers', 'numBytes', 'numBytesInGPU', 'numBytesInGPUAllocated',
                     'numBytesAllocatedInGPU']) {
    if (typeof m[key] === 'number') {
      out[key] = m[key] as number;
    }
  }
  return out;
}

export function describeLeakChecks() {
  describeWithFlags('reliability: leaks over 1000 MoE + fused CE training steps', LEAK_ENVS, env => {
    it('keep numTensors, numBytes and GPU bytes flat from step 50 to step 1000', () => withFastMatMul(async () => {
      const embed = tf.variable(tf.randomNormal([V, D], 0, 0.5, 'float32', 1), true, 'leak_embed');
      const classifier = tf.variable(tf.randomNormal([V, D], 0, 0.3, 'float32', 2), true, 'leak_classifier');
      const moe = mixtureOfExperts({
        name: 'leak_moe', numExperts: 4, topK: 2, units: D, hiddenUnits: 8, activation: 'relu', seed: 3,
        balance: {biasUpdateRate: 0.01, routerZLoss: 1e-3},
      });
      tf.tidy(() => moe.apply(tf.zeros([1, D])) as tf.Tensor);  // builds the layer's weights
      const vars = [embed, classifier, ...moe.trainableWeights.map(w => w.read() as tf.Variable)];
      const opt = tf.train.momentum(0.3, 0.9);
      // A periodic stream (next = 7·i mod 13): learnable, so the loss must fall as well.
      const stream = Int32Array.from({length: 64}, (_, i) => (i * 7) % V);
      const step = (i: number) => opt.minimize(() => {
        const start = (i * 5) % (stream.length - N - 1);
        const x = embeddingLookup(embed, tf.tensor1d(stream.subarray(start, start + N), 'int32')) as tf.Tensor2D;
        const h = tf.add(x, moe.apply(x, {training: true}) as tf.Tensor) as tf.Tensor2D;
        const labels = tf.tensor1d(stream.subarray(start + 1, start + N + 1), 'int32');
        const ce = linearCrossEntropy(h, classifier as tf.Tensor as tf.Tensor2D, labels, {maxSup: 0.1}) as tf.Scalar;
        return tf.addN([ce, ...moe.calculateLosses()]) as tf.Scalar;
      }, true, vars)!;

      const snapshots: Array<{step: number, memory: Record<string, number>}> = [];
      const losses: number[] = [];
      const started = Date.now();
      try {
        for (let i = 1; i <= STEPS; ++i) {
          const loss = step(i);
          moe.endStep();  // the optimizer step is done: the aux-loss-free bias moves
          if (i % EVERY === 0 || i === 1) {
            // Reading back drains the GPU queue: deferred buffer releases have happened when we count.
            losses.push((await loss.data())[0]);
            loss.dispose();
            const metrics = await moe.readMetrics();
            expect(metrics).not.toBeNull();
            if (i >= WARMUP) {
              snapshots.push({step: i, memory: memorySnapshot()});
            }
          } else {
            loss.dispose();
          }
        }
        const seconds = (Date.now() - started) / 1000;
        const first = snapshots[0], last = snapshots[snapshots.length - 1];
        console.log(`\n[leaks ${env.name}] ${STEPS} steps in ${seconds.toFixed(1)} s; step ${first.step}: ` +
                    `${JSON.stringify(first.memory)}; step ${last.step}: ${JSON.stringify(last.memory)}; loss ` +
                    `${losses[0].toFixed(3)} -> ${losses[losses.length - 1].toFixed(3)}`);
        expect(last.step).toBe(STEPS);
        for (const s of snapshots) {
          expect({step: s.step, ...s.memory}).toEqual({step: s.step, ...first.memory});
        }
        expect(losses.every(Number.isFinite)).toBe(true);
        expect(losses[losses.length - 1]).toBeLessThan(losses[0] - 0.5);
      } finally {
        opt.dispose();
        moe.dispose();
        tf.dispose([embed, classifier]);
      }
    }), 15 * 60 * 1000);
  });
}

// Forward and backward of every sluice op, using nothing but the op and
// tf.grads with an explicit upstream gradient (no tf.sum or other stock op
// whose own gradient would need registering): with tfjs-core and one backend
// alone, a missing gradient or chained op in sluice's code fails here.
// Prints `CORE_ONLY <op> ok` or `CORE_ONLY <op> <error>` per op. Values are
// checked by the conformance suites; here every output and gradient must
// have its input's shape and be finite.
export async function runAllOps(tf, core, log) {
  const seeded = (shape, seed) => tf.randomNormal(shape, 0, 1, 'float32', seed);
  const cases = {
    linearCrossEntropy: () => {
      const y = tf.tensor1d([0, 3, 6, -100, 2], 'int32');
      return tf.grads((e, c) => core.linearCrossEntropy(e, c, y))([seeded([5, 4], 1), seeded([7, 4], 2)]);
    },
    topOneSuppression: () => tf.grads(z => core.topOneSuppression(z, 0.5))([seeded([3, 6], 3)], seeded([3], 4)),
    routeTopK: () => tf.grads(z => core.routeTopK(z, 2).gates)([seeded([5, 4], 5)], seeded([5, 2], 6)),
    expertDispatch: () => {
      const idx = tf.tensor2d([[0, 2], [1, 0], [2, 3], [3, 1], [0, 1]], [5, 2], 'int32');
      return tf.grads(x => core.expertDispatch(x, idx, 4).dispatched)([seeded([5, 3], 7)], seeded([10, 3], 8));
    },
    groupedMatMul: () => {
      const offsets = tf.tensor1d([0, 3, 3, 7, 10], 'int32');
      return tf.grads((x, w) => core.groupedMatMul(x, w, offsets))([seeded([10, 3], 9), seeded([4, 3, 2], 10)],
                                                                  seeded([10, 2], 11));
    },
    expertCombine: () => {
      const rows = tf.tensor1d([0, 3, 1, 4, 2, 5, 7, 9, 6, 8], 'int32');
      return tf.grads((y, g) => core.expertCombine(y, rows, g))([seeded([10, 3], 12), seeded([5, 2], 13)],
                                                               seeded([5, 3], 14));
    },
  };
  for (const [op, run] of Object.entries(cases)) {
    try {
      const grads = tf.tidy(run);
      for (const g of grads) {
        const values = await g.data();
        if (!values.every(Number.isFinite)) throw new Error(`a gradient of shape [${g.shape}] is not finite`);
      }
      tf.dispose(grads);
      log(`CORE_ONLY ${op} ok`);
    } catch (e) {
      log(`CORE_ONLY ${op} ${(e && e.message ? e.message : String(e)).split('\n')[0]}`);
    }
  }
}

// Forward and backward of every sluice op, using nothing but the op and
// tf.valueAndGrads with an explicit upstream gradient (no tf.sum or other stock op
// whose own gradient would need registering): with tfjs-core and one backend
// alone, a missing gradient or chained op in sluice's code fails here.
// Prints `CORE_ONLY <op> ok` or `CORE_ONLY <op> <error>` per op. Values are
// checked by the conformance suites; here each output must have the shape the
// API documents (DESIGN.md, the ops' docs), each gradient its input's shape,
// and all of them must be finite.
export async function runAllOps(tf, core, log) {
  const seeded = (shape, seed) => tf.randomNormal(shape, 0, 1, 'float32', seed);
  // {f, inputs, dy (upstream gradient, or none for a scalar loss), shape: the documented output shape}
  const cases = {
    // mean reduction: a scalar.
    linearCrossEntropy: () => {
      const y = tf.tensor1d([0, 3, 6, -100, 2], 'int32');
      return {f: (e, c) => core.linearCrossEntropy(e, c, y), inputs: [seeded([5, 4], 1), seeded([7, 4], 2)], shape: []};
    },
    // [N, V] -> [N]
    topOneSuppression: () => ({f: z => core.topOneSuppression(z, 0.5), inputs: [seeded([3, 6], 3)], dy: seeded([3], 4),
                               shape: [3]}),
    // gates [N, k]
    routeTopK: () => ({f: z => core.routeTopK(z, 2).gates, inputs: [seeded([5, 4], 5)], dy: seeded([5, 2], 6),
                       shape: [5, 2]}),
    // dispatched [M, D], M = N·k kept pairs (no capacity)
    expertDispatch: () => {
      const idx = tf.tensor2d([[0, 2], [1, 0], [2, 3], [3, 1], [0, 1]], [5, 2], 'int32');
      return {f: x => core.expertDispatch(x, idx, 4).dispatched, inputs: [seeded([5, 3], 7)], dy: seeded([10, 3], 8),
              shape: [10, 3]};
    },
    // [M, D] x [E, D, H] -> [M, H]
    groupedMatMul: () => {
      const offsets = tf.tensor1d([0, 3, 3, 7, 10], 'int32');
      return {f: (x, w) => core.groupedMatMul(x, w, offsets), inputs: [seeded([10, 3], 9), seeded([4, 3, 2], 10)],
              dy: seeded([10, 2], 11), shape: [10, 2]};
    },
    // y [M, H], gates [N, k] -> [N, H]
    expertCombine: () => {
      const rows = tf.tensor1d([0, 3, 1, 4, 2, 5, 7, 9, 6, 8], 'int32');
      return {f: (y, g) => core.expertCombine(y, rows, g), inputs: [seeded([10, 3], 12), seeded([5, 2], 13)],
              dy: seeded([5, 3], 14), shape: [5, 3]};
    },
  };
  const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  for (const [op, make] of Object.entries(cases)) {
    try {
      const {value, grads, inputShapes, shape} = tf.tidy(() => {
        const c = make();
        return {...tf.valueAndGrads(c.f)(c.inputs, c.dy), inputShapes: c.inputs.map(t => t.shape), shape: c.shape};
      });
      try {
        if (!same(value.shape, shape)) throw new Error(`output of shape [${value.shape}], expected [${shape}]`);
        grads.forEach((g, i) => {
          if (!same(g.shape, inputShapes[i])) {
            throw new Error(`gradient ${i} of shape [${g.shape}], expected its input's [${inputShapes[i]}]`);
          }
        });
        for (const t of [value, ...grads]) {
          const values = await t.data();
          if (!values.every(Number.isFinite)) throw new Error(`a result of shape [${t.shape}] is not finite`);
        }
      } finally {
        tf.dispose([value, ...grads]);
      }
      log(`CORE_ONLY ${op} ok`);
    } catch (e) {
      log(`CORE_ONLY ${op} ${(e && e.message ? e.message : String(e)).split('\n')[0]}`);
    }
  }
}

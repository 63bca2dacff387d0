/**
 * Typed wrappers over TensorFlow eager ops, run through the backend the
 * kernel was handed (`executeSingleOutput`), the way tfjs-node's own kernels
 * call libtensorflow. Going below tfjs ops matters here: it reaches ops tfjs
 * does not expose (`TanhGrad`, `TensorScatterAdd`, `GatherV2` with
 * `batch_dims`, `MatMul` with transposes and no broadcasting) and skips the
 * engine's per-op bookkeeping inside loops that run once per vocabulary block.
 *
 * Every result is an engine-tracked `Tensor`, so `tidy`, `dispose` and
 * `tf.memory()` account for the kernels' intermediates like any other tensor.
 */
import {DataType, scalar, Tensor, tensor1d, TensorInfo} from '@tensorflow/tfjs-core';

import {inputTensorIds, NodeJSKernelBackend, TFEOpAttr} from './internal';

/**
 * `f(x)`, disposing `x` and `also` right after: for chains of large
 * temporaries inside a `tidy`, which would otherwise hold them all to its end.
 */
export function consume<T>(x: Tensor, f: (x: Tensor) => T, ...also: Tensor[]): T {
  const out = f(x);
  x.dispose();
  also.forEach(t => t.dispose());
  return out;
}

type Unary = 'Exp'|'Log'|'Tanh'|'Square'|'Neg';
type Binary = 'AddV2'|'Sub'|'Mul'|'RealDiv'|'Maximum'|'Greater'|'Less'|'NotEqual'|'MulNoNan';
type Reduction = 'Sum'|'Max'|'Mean';

export class TfOps {
  constructor(private readonly backend: NodeJSKernelBackend) {}

  private typeAttr(name: string, dtype: DataType): TFEOpAttr {
    return {name, type: this.backend.binding.TF_ATTR_TYPE, value: this.backend.getDTypeInteger(dtype)};
  }

  private intAttr(name: string, value: number): TFEOpAttr {
    return {name, type: this.backend.binding.TF_ATTR_INT, value};
  }

  private boolAttr(name: string, value: boolean): TFEOpAttr {
    return {name, type: this.backend.binding.TF_ATTR_BOOL, value};
  }

  /** Runs `op` with `inputs`, disposing the int32 helper tensors made for its shape/axis arguments. */
  private run(op: string, attrs: TFEOpAttr[], inputs: TensorInfo[], helpers: Tensor[] = []): Tensor {
    try {
      return this.backend.executeSingleOutput(op, attrs, [...inputs, ...helpers]) as unknown as Tensor;
    } finally {
      helpers.forEach(t => t.dispose());
    }
  }

  unary(op: Unary, x: TensorInfo): Tensor {
    return this.run(op, [this.typeAttr('T', x.dtype)], [x]);
  }

  binary(op: Binary, a: TensorInfo, b: TensorInfo): Tensor {
    return this.run(op, [this.typeAttr('T', a.dtype)], [a, b]);
  }

  /** `a op s` for a float32 scalar constant `s`. */
  withScalar(op: Binary, a: TensorInfo, s: number): Tensor {
    return this.run(op, [this.typeAttr('T', a.dtype)], [a], [scalar(s, a.dtype)]);
  }

  /** Broadcasting `cond ? t : e`. */
  select(cond: TensorInfo, t: TensorInfo, e: TensorInfo): Tensor {
    return this.run('SelectV2', [this.typeAttr('T', t.dtype)], [cond, t, e]);
  }

  /** dy · (1 − y²): the tanh derivative written in terms of its output, fused. */
  tanhGrad(y: TensorInfo, dy: TensorInfo): Tensor {
    return this.run('TanhGrad', [this.typeAttr('T', y.dtype)], [y, dy]);
  }

  reduce(op: Reduction, x: TensorInfo, axes: number[], keepDims = false): Tensor {
    const attrs = [this.boolAttr('keep_dims', keepDims), this.typeAttr('T', x.dtype), this.typeAttr('Tidx', 'int32')];
    return this.run(op, attrs, [x], [tensor1d(axes, 'int32')]);
  }

  /** First index of the maximum along `axis`, int32 (TF's ArgMax keeps the first on ties). */
  argMax(x: TensorInfo, axis: number): Tensor {
    const attrs = [this.typeAttr('T', x.dtype), this.typeAttr('Tidx', 'int32'), this.typeAttr('output_type', 'int32')];
    return this.run('ArgMax', attrs, [x], [scalar(axis, 'int32')]);
  }

  matMul(a: TensorInfo, b: TensorInfo, transposeA = false, transposeB = false): Tensor {
    const attrs = [this.typeAttr('T', a.dtype), this.boolAttr('transpose_a', transposeA),
                   this.boolAttr('transpose_b', transposeB)];
    return this.run('MatMul', attrs, [a, b]);
  }

  slice(x: TensorInfo, begin: number[], size: number[]): Tensor {
    return this.run('Slice', [this.typeAttr('T', x.dtype), this.typeAttr('Index', 'int32')], [x],
                    [tensor1d(begin, 'int32'), tensor1d(size, 'int32')]);
  }

  concat(xs: TensorInfo[], axis: number): Tensor {
    const attrs = [this.intAttr('N', xs.length), this.typeAttr('T', xs[0].dtype), this.typeAttr('Tidx', 'int32')];
    return this.run('ConcatV2', attrs, xs, [scalar(axis, 'int32')]);
  }

  /** x [R, ...] split along axis 0 into consecutive pieces of `sizes` rows (sizes may be 0; Σ sizes = R). */
  splitRows(x: TensorInfo, sizes: number[]): Tensor[] {
    const attrs = [this.intAttr('num_split', sizes.length), this.typeAttr('T', x.dtype), this.typeAttr('Tlen', 'int32')];
    return this.runMultiple('SplitV', attrs, [x], sizes.length, [tensor1d(sizes, 'int32'), scalar(0, 'int32')]);
  }

  /** The x[i] of x [E, ...], each of rank one less. */
  unstack(x: TensorInfo): Tensor[] {
    const num = x.shape[0];
    const attrs = [this.intAttr('num', num), this.typeAttr('T', x.dtype), this.intAttr('axis', 0)];
    return this.runMultiple('Unpack', attrs, [x], num);
  }

  private runMultiple(op: string, attrs: TFEOpAttr[], inputs: TensorInfo[], numOutputs: number,
                      helpers: Tensor[] = []): Tensor[] {
    try {
      return this.backend.executeMultipleOutputs(op, attrs, [...inputs, ...helpers], numOutputs) as unknown as Tensor[];
    } finally {
      helpers.forEach(t => t.dispose());
    }
  }

  reshape(x: TensorInfo, shape: number[]): Tensor {
    return this.run('Reshape', [this.typeAttr('T', x.dtype), this.typeAttr('Tshape', 'int32')], [x],
                    [tensor1d(shape, 'int32')]);
  }

  fill(shape: number[], value: number, dtype: DataType = 'float32'): Tensor {
    return this.run('Fill', [this.typeAttr('T', dtype), this.typeAttr('index_type', 'int32')], [],
                    [tensor1d(shape, 'int32'), scalar(value, dtype)]);
  }

  broadcastTo(x: TensorInfo, shape: number[]): Tensor {
    return this.run('BroadcastTo', [this.typeAttr('T', x.dtype), this.typeAttr('Tidx', 'int32')], [x],
                    [tensor1d(shape, 'int32')]);
  }

  cast(x: TensorInfo, dtype: DataType): Tensor {
    const attrs = [this.typeAttr('SrcT', x.dtype), this.typeAttr('DstT', dtype), this.boolAttr('Truncate', false)];
    return this.run('Cast', attrs, [x]);
  }

  /** `x` with its axes permuted (a copy). */
  transpose(x: TensorInfo, perm: number[]): Tensor {
    return this.run('Transpose', [this.typeAttr('T', x.dtype), this.typeAttr('Tperm', 'int32')], [x],
                    [tensor1d(perm, 'int32')]);
  }

  /** Columns `indices` of `x` (axis 1). */
  gatherColumns(x: TensorInfo, indices: TensorInfo): Tensor {
    return this.gather(x, indices, 1, 0);
  }

  /** Rows `indices` of `x` (axis 0). */
  gatherRows(x: TensorInfo, indices: TensorInfo): Tensor {
    return this.gather(x, indices, 0, 0);
  }

  /** out[i] = x[i, indices[i]] for x [N, K] and int32 indices [N]; out is [N, 1]. */
  gatherPerRow(x: TensorInfo, indices: TensorInfo): Tensor {
    const column = this.reshape(indices, [indices.shape[0], 1]);
    try {
      return this.gather(x, column, 1, 1);
    } finally {
      column.dispose();
    }
  }

  private gather(x: TensorInfo, indices: TensorInfo, axis: number, batchDims: number): Tensor {
    const attrs = [this.intAttr('batch_dims', batchDims), this.typeAttr('Tparams', x.dtype),
                   this.typeAttr('Tindices', 'int32'), this.typeAttr('Taxis', 'int32')];
    return this.run('GatherV2', attrs, [x, indices], [scalar(axis, 'int32')]);
  }

  /** A copy of `x` with `updates` [M, ...] added at rows `indices` [M, 1] (repeats accumulate). */
  scatterAddRows(x: TensorInfo, indices: TensorInfo, updates: TensorInfo): Tensor {
    return this.run('TensorScatterAdd', [this.typeAttr('T', x.dtype), this.typeAttr('Tindices', 'int32')],
                    [x, indices, updates]);
  }

  /**
   * x[start : start + v.rows] = v, in place. TF's InplaceUpdate aliases its
   * input (it is the op behind tf.raw_ops' alias_inplace_update), so its output
   * handle is dropped without becoming a tensor: no [V, D] copy is made, and
   * tfjs does not count an alias as a second allocation.
   */
  writeRows(x: Tensor, start: number, v: TensorInfo) {
    const rows = tensor1d(Array.from({length: v.shape[0]}, (_, i) => start + i), 'int32');
    try {
      const {binding} = this.backend;
      const [alias] = binding.executeOp('InplaceUpdate', [this.typeAttr('T', x.dtype)],
                                        inputTensorIds(this.backend, [x, rows, v]), 1);
      binding.deleteTensor(alias.id);
    } finally {
      rows.dispose();
    }
  }

  /** out[i] = Σ x[j] over the rows j with segmentIds[j] = i, for i in [0, numSegments) (int32 ids [M]). */
  unsortedSegmentSum(x: TensorInfo, segmentIds: TensorInfo, numSegments: number): Tensor {
    const attrs = [this.typeAttr('T', x.dtype), this.typeAttr('Tindices', 'int32'),
                   this.typeAttr('Tnumsegments', 'int32')];
    return this.run('UnsortedSegmentSum', attrs, [x, segmentIds], [scalar(numSegments, 'int32')]);
  }

  /** The values of a float32 tensor, read synchronously. */
  readFloats(x: TensorInfo): Float32Array {
    return this.backend.readSync(x.dataId) as Float32Array;
  }

  /** The values of an int32 tensor, read synchronously. */
  readInts(x: TensorInfo): Int32Array {
    return this.backend.readSync(x.dataId) as Int32Array;
  }
}

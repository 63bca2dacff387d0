import {customGrad, engine, GradSaveFunc, Tensor, zeros} from '@tensorflow/tfjs-core';

/**
 * The same data under a new handle that the gradient tape does not know:
 * tfjs has no stopGradient. Used for values that only select (top-k
 * indices, Sinkhorn plans), so integer tensors derived from them never sit
 * on a differentiable path.
 */
export function stopGradient<T extends Tensor>(t: T): T {
  const e = engine() as unknown as {
    nextTensorId(): number,
    incRef(t: Tensor, backend: unknown): void,
    state: {tensorInfo: {get(dataId: object): {backend: unknown}}},
  };
  // A second handle on the data, counted like any tensor (the backend's
  // reference count goes up, so either handle can be disposed first).
  const copy = new Tensor(t.shape, t.dtype, t.dataId, e.nextTensorId());
  e.incRef(copy, e.state.tensorInfo.get(t.dataId).backend);
  return copy as T;
}

/**
 * An empty result of `shape` that stays on the tape of `inputs` (so tf.grad
 * through it gives zeros) without running any kernel on empty data: webgpu
 * rejects zero-size bindings and drops the whole command batch with them.
 */
export function emptyResult(shape: number[], inputs: Tensor[]): Tensor {
  const f = customGrad((...args: Array<Tensor|GradSaveFunc>) => {
    const xs = args.slice(0, inputs.length) as Tensor[];
    return {value: zeros(shape), gradFunc: () => xs.map(x => zeros(x.shape))};
  });
  return f(...inputs);
}

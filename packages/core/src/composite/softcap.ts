import {mul, scalar, sub, tanh, Tensor, square, div} from '@tensorflow/tfjs-core';

/** z = s·tanh(x / s); identity when s = 0. */
export function applySoftcap(x: Tensor, softcap: number): Tensor {
  return softcap > 0 ? mul(tanh(div(x, scalar(softcap))), scalar(softcap)) : x;
}

/** dz/dx of the softcap written in terms of its output: 1 − (z / s)². */
export function softcapDerivative(z: Tensor, softcap: number): Tensor {
  return sub(scalar(1), square(div(z, scalar(softcap))));
}

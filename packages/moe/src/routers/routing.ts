import type {Tensor1D, Tensor2D} from '@tensorflow/tfjs-core';

/**
 * What a router decides for N tokens and E experts. Either k (expert, gate)
 * slots per token, which sparse dispatch turns into expert-grouped rows, or,
 * for expert choice, C tokens per expert, already grouped by expert.
 */
export type Routing = {
  kind: 'slots',
  expertIndices: Tensor2D,  // int32 [N, k]
  gates: Tensor2D,          // [N, k]
}|{
  kind: 'expertChoice',
  tokenIndices: Tensor1D,   // int32 [E·C], expert e's tokens at [e·C, (e+1)·C)
  gates: Tensor1D,          // [E·C]
  capacity: number,
};

export interface RouterOutput {
  routing: Routing;
  /** Unbiased router scores [N, E] (probabilities for softmax scoring). */
  scores: Tensor2D;
}

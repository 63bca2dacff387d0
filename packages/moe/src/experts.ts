/**
 * The experts' feed-forward networks, run over sparse dispatch: tokens are
 * grouped by expert, each expert's contiguous rows go through its own
 * weights in one grouped matmul per layer, and the outputs are scattered back
 * weighted by the gates. Dropless dispatch is ragged; with a capacity each
 * expert's segment is padded to its C slots (the static layout, which needs
 * no readback on any backend). Nothing is one-hot encoded.
 */
import {add, cast, div, expandDims, matMul, maximum, mul, pow, range, reshape, scalar, sigmoid, slice, Scalar, sum,
        tanh, Tensor, Tensor1D, Tensor2D, Tensor3D, relu, zeros} from '@tensorflow/tfjs-core';
import {expertCombine, expertDispatch, groupedMatMul} from '@sluice/core';
import {embeddingLookup, keptRows, segmentSum, stopGradient} from '@sluice/core/internal';

import type {DropPolicy, ExpertActivation} from './config';
import type {Routing} from './routers/routing';

const GELU_C = Math.sqrt(2 / Math.PI);

/** tanh-approximated GELU, as GPT-2 and most MoE language models use. */
export function gelu(x: Tensor): Tensor {
  const inner = mul(add(x, mul(pow(x, scalar(3)), scalar(0.044715))), scalar(GELU_C));
  return mul(mul(x, scalar(0.5)), add(tanh(inner), scalar(1)));
}

/** Hidden activation; swiglu takes [.., 2H] and returns silu(first half) · second half. */
export function activate(h: Tensor2D, activation: ExpertActivation): Tensor2D {
  if (activation === 'relu') return relu(h);
  if (activation === 'gelu') return gelu(h) as Tensor2D;
  const half = h.shape[1] / 2;
  const a = slice(h, [0, 0], [-1, half]), b = slice(h, [0, half], [-1, half]);
  return mul(mul(a, sigmoid(a)), b) as Tensor2D;
}

export interface ExpertWeights {
  w1: Tensor3D;  // [E, D, H] (2H for swiglu)
  w2: Tensor3D;  // [E, H, U]
}

export interface ExpertsResult {
  output: Tensor2D;            // [N, U]
  droppedCount: Scalar|null;   // pairs over capacity (slots routing)
  expertCounts: Tensor1D|null; // int32 [E] pairs routed to each expert before drops (slots routing)
  /** [N, k, U] each slot's expert output before gating (0 for dropped pairs); only when asked. */
  slotOutputs: Tensor3D|null;
}

export interface CapacityOptions {
  /** Slots per expert; undefined: dropless. */
  capacity?: number;
  dropPolicy: DropPolicy;
  /**
   * Give each token's kept slots its gate mass back: kept · Σ gates / Σ kept
   * (GShard, DeepSpeed top2gating / topkgating with normalised gates).
   */
  renormalizeAfterDrop: boolean;
}

/** [N, k] 1 for the pairs that kept a slot, 0 for dropped ones (a scatter of the static layout's sourceRows). */
function keptPairs(sourceRows: Tensor1D, n: number, k: number): Tensor2D {
  const {safe, valid} = keptRows(sourceRows);
  return reshape(segmentSum(valid, safe, n * k), [n, k]) as Tensor2D;
}

/** DeepSpeed clamps the kept gates' sum at float32 ε, so a token whose every pair dropped gets gates 0. */
const FLOAT32_EPS = 1.1920928955078125e-7;

export function runExperts(x: Tensor2D, routing: Routing, weights: ExpertWeights, numExperts: number,
                           capacity: CapacityOptions, activation: ExpertActivation,
                           wantSlotOutputs: boolean): ExpertsResult {
  const n = x.shape[0];
  if (routing.kind === 'slots') {
    const k = routing.expertIndices.shape[1];
    const c = capacity.capacity;
    const d = expertDispatch(x, routing.expertIndices, numExperts, c === undefined ? {} : {
      capacity: c, dropPolicy: capacity.dropPolicy,
      ...(capacity.dropPolicy === 'score' ? {gates: routing.gates} : {}),
    });
    const h = activate(groupedMatMul(d.dispatched, weights.w1, d.expertOffsets), activation);
    const y = groupedMatMul(h, weights.w2, d.expertOffsets);
    let gates = routing.gates;
    if (c !== undefined && capacity.renormalizeAfterDrop && n > 0) {
      // The token's own gate mass, not 1: unnormalised gates (normalizeGates false) keep their sum, and a
      // token that dropped nothing keeps its gates; with normalised gates the mass is 1, as DeepSpeed has it.
      const kept = mul(gates, keptPairs(d.sourceRows, n, k));
      const mass = sum(gates, 1, true);
      gates = div(mul(kept, mass), maximum(sum(kept, 1, true), scalar(FLOAT32_EPS))) as Tensor2D;
    }
    const output = expertCombine(y, d.sourceRows, gates);
    let slotOutputs: Tensor3D|null = null;
    if (wantSlotOutputs) {
      const {safe, valid} = keptRows(d.sourceRows);
      slotOutputs = reshape(segmentSum(mul(y, expandDims(valid, 1)), safe, n * k), [n, k, y.shape[1]]) as Tensor3D;
    }
    return {output, droppedCount: d.droppedCount, expertCounts: d.expertCounts, slotOutputs};
  }
  const {tokenIndices, gates, capacity: c} = routing;
  const rows = embeddingLookup(x, stopGradient(tokenIndices)) as Tensor2D;
  // Every expert holds exactly c rows: offsets 0, c, 2c, ..., E·c.
  const offsets = cast(range(0, numExperts * c + 1, c), 'int32') as Tensor1D;
  const h = activate(groupedMatMul(rows, weights.w1, offsets), activation);
  const y = groupedMatMul(h, weights.w2, offsets);
  const output = n === 0 ? zeros([0, y.shape[1]]) as Tensor2D :
                           segmentSum(mul(y, expandDims(gates, 1)), tokenIndices, n) as Tensor2D;
  return {output, droppedCount: null, expertCounts: null, slotOutputs: null};
}

/** The always-on shared experts: one dense FFN of width sharedExperts · hiddenUnits. */
export function sharedFfn(x: Tensor2D, w1: Tensor2D, w2: Tensor2D, activation: ExpertActivation): Tensor2D {
  return matMul(activate(matMul(x, w1), activation), w2);
}

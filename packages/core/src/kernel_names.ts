/**
 * Kernel names and their input/attr types, in the shape of tfjs-core's own
 * `kernel_names.ts`: backends register kernels under these names and the op
 * functions in `ops/` call `engine().runKernel(name, inputs, attrs)`.
 */
import type {NamedTensorInfoMap, TensorInfo} from '@tensorflow/tfjs-core';

/**
 * Per-token fused linear cross-entropy: the contract for kernel authors
 * (every backend kernel and the composite implement all of it).
 *
 * Inputs: embeddings [N, D] float32; classifier [V, D] (`classifierLayout`
 * 'vd') or [D, V] ('dv': a dense layer's kernel, read as it is, never
 * transposed in memory); labels [N] int32; bias [V] float32; classWeights [V]
 * float32 (finite, >= 0). The op always passes bias (zeros when the caller
 * gave none) and classWeights (ones when none), because tfjs's `inputsToSave`
 * cannot name an optional input; `hasBias` / `hasClassWeights` say whether
 * they are real: a kernel may skip reading a zeros bias (hasBias false) and
 * all-ones weights (hasClassWeights false), and one that reads them anyway is
 * still correct. N may be 0; V >= 1; D >= 1.
 *
 * Definitions. z = softcap(e·cᵀ + b) are a token's final logits (softcap 0:
 * none; z = s·tanh(x / s)). U = the unmasked classes, those with b_c > −Inf:
 * a −Inf bias entry masks its class, decided on the bias, not on z (with a
 * softcap −Inf would otherwise become z = −s). A masked class has z_c = −Inf
 * by definition and takes part in nothing below. V_u = |U|; w = classWeights
 * (ones when absent); S = Σ_{c∈U} w_c; ls = labelSmoothing.
 *   lse     = log Σ_{c∈U} exp z_c                       (every token)
 *   argmax  = first index of max_c z_c                   (every token)
 *   entropy = lse − Σ_{c∈U} p_c·z_c, p = softmax over U  (every token)
 * For a kept token (label y ≠ ignoreIndex) with y in [0, V):
 *   loss = (1 − ls)·w_y·(lse − z_y) + (ls / V_u)·(S·lse − Σ_{c∈U} w_c·z_c)
 *        + zLoss·w_y·lse²
 *        + maxSup·w_y·(max_c z_c − (1 / V_u)·Σ_{c∈U} z_c)
 * which is PyTorch's cross_entropy(weight, label_smoothing) with C → V_u.
 * A label at a masked class gives z_y = −Inf, so loss = +Inf (as PyTorch).
 * A label outside [0, V) that is not ignoreIndex (only reachable where the
 * op cannot read labels back: GPU-resident on webgpu/webgl) gives loss NaN,
 * and a NaN gradient (its dEmbeddings row NaN). An ignored token has loss 0
 * and gradient 0 (its lse, argmax and entropy are still computed). Without
 * masked classes or classWeights this is exactly the first round's loss,
 * lse − (1 − ls)·z_y − ls·mean(z) + zLoss·lse² + maxSup·(max z − mean z).
 * The op's 'mean' divides Σ loss by Σ_{kept} w_y (0 when that is 0).
 * Every class masked (V_u = 0, every bias −Inf): lse and entropy are NaN for
 * every token, every kept token's loss is NaN (ignored ones: 0) and argmax is
 * 0, as the float64 reference gives (log of an empty sum is taken as NaN, not
 * −Inf, so the loss cannot read as a finite or −Inf value). Its gradient is not
 * specified.
 *
 * Outputs, in order:
 *   losses  [N] float32  per-token loss (0 for ignored tokens),
 *   lse     [N] float32,
 *   argmax  [N] int32    first index of the row maximum, ties to the lowest
 *                        index (maxSup's gradient, and the op's predictions),
 *   entropy [N] float32  when `computeEntropy`, else shape [0] (not
 *                        differentiable: its upstream gradient is ignored).
 * Accumulation (issue 18.6): every reduction accumulates in float32 or wider
 * (the cpu kernels' JS numbers are float64; nothing accumulates in less than
 * float32), in an order each kernel documents at the top of its file.
 */
export const SluiceLinearCrossEntropy = 'SluiceLinearCrossEntropy';
export type SluiceLinearCrossEntropyInputs = {
  embeddings: TensorInfo;    // [N, D] float32
  classifier: TensorInfo;    // [V, D] ('vd') or [D, V] ('dv') float32
  labels: TensorInfo;        // [N] int32
  bias?: TensorInfo;         // [V] float32; always passed by the op
  classWeights?: TensorInfo; // [V] float32; always passed by the op
};
export type ClassifierLayout = 'vd'|'dv';
export interface SluiceLinearCrossEntropyAttrs {
  ignoreIndex: number;
  /** 0 = no softcap. */
  softcap: number;
  labelSmoothing: number;
  zLoss: number;
  maxSup: number;
  /** Already resolved: 0 disables filtering. */
  gradFilterEps: number;
  /** 0 = the kernel chooses. */
  vocabChunk: number;
  /**
   * Mirrors `options.bias != null`. The op always passes a bias input (zeros
   * when the caller gave none) because tfjs's `inputsToSave` cannot name an
   * optional input; with hasBias false that input is zeros and a kernel may
   * skip reading and adding it (cpu, tensorflow and the composite do).
   */
  hasBias: boolean;
  /** 'vd': classifier [V, D]; 'dv': [D, V]. dClassifier comes back in the same layout. */
  classifierLayout: ClassifierLayout;
  /** false: classWeights are all ones (the op's default) and kernels may skip reading them. */
  hasClassWeights: boolean;
  /** Whether to fill the entropy output ([N]); false: it has shape [0]. */
  computeEntropy: boolean;
}

/**
 * Gradient of `SluiceLinearCrossEntropy`. Per kept token, with upstream
 * g = dLosses_i, h = dLse_i, p = softmax over U (p_c = 0 for masked c),
 * [c∈U] = 1 for unmasked classes, 0 for masked ones:
 *   dL/dz_c = g·[ (1 − ls)·w_y·(p_c − δ_cy) + (ls / V_u)·(S·p_c − w_c·[c∈U])
 *               + 2·zLoss·w_y·lse·p_c + maxSup·w_y·(δ_{c,argmax} − [c∈U] / V_u) ]
 *             + h·p_c
 * (ignored tokens: g = 0, the h term remains), then times the softcap's
 * derivative 1 − (z / s)². A masked class gets exactly 0: its dBias entry and
 * its dClassifier row (column in 'dv') are 0. The entropy output is not
 * differentiable; its upstream gradient is not an input.
 * Outputs: dEmbeddings [N, D], dClassifier in the classifier's layout
 * ([V, D] or [D, V]) and dBias [V]. With `hasBias` false the op discards
 * dBias: a kernel may return zeros without computing it (cpu, tensorflow and
 * the composite do), the gradient at the zeros bias, or leave it out.
 * classWeights and labels get no gradient.
 */
export const SluiceLinearCrossEntropyGrad = 'SluiceLinearCrossEntropyGrad';
export type SluiceLinearCrossEntropyGradInputs = {
  dLosses: TensorInfo;     // [N] upstream gradient of `losses`
  dLse: TensorInfo;        // [N] upstream gradient of `lse`
  embeddings: TensorInfo;
  classifier: TensorInfo;
  labels: TensorInfo;
  lse: TensorInfo;         // [N] saved forward output
  argmax: TensorInfo;      // [N] int32 saved forward output
  bias?: TensorInfo;
  classWeights?: TensorInfo;
};
export type SluiceLinearCrossEntropyGradAttrs = SluiceLinearCrossEntropyAttrs;

/** Helper for kernels: the inputs as a `NamedTensorInfoMap`. */
export type AsNamed<T> = T & NamedTensorInfoMap;

/**
 * Top-1 suppression, MaxSup's penalty, per row of `logits` [N, V] (V >= 1):
 *   penalty[i] = alpha · (max_j z_ij − mean_j z_ij)
 * Outputs, in order:
 *   penalty [N] float32,
 *   argmax  [N] int32   first index of the row maximum (ties go to the lowest
 *                       index), saved for the gradient.
 * Contract for kernel authors:
 * - One pass over each row: carry the running max, its index (replaced only
 *   when a value is strictly greater, so the first maximum wins) and the row
 *   sum (or Σ(max − z), rescaled when the max moves, which avoids cancellation
 *   in float32 when logits share a large offset).
 * - N may be 0 (outputs of shape [0]); the op rejects V = 0 and bad alpha.
 * - A row holding a NaN must give a NaN penalty; its argmax may then be any
 *   int32 (an index outside [0, V) just gives that row a uniform gradient).
 * - There is no gradient kernel: the gradient α·dy·(onehot(argmax) − 1/V) is
 *   built from stock ops in `gradients/SluiceTopOneSuppression_grad.ts`, so a
 *   backend that provides this one forward kernel is complete.
 */
export const SluiceTopOneSuppression = 'SluiceTopOneSuppression';
export type SluiceTopOneSuppressionInputs = {
  logits: TensorInfo;  // [N, V] float32
};
export interface SluiceTopOneSuppressionAttrs {
  /** Finite and >= 0 (validated by the op). */
  alpha: number;
}

/** Which (token, slot) pairs an expert keeps first when it has more than `capacity`. */
export type ExpertDropPolicy = 'position'|'slotMajor'|'score';

/**
 * Sparse expert dispatch: a stable counting sort of the P = N·k (token, slot)
 * pairs by expert. Inputs x [N, D] float32, expertIndices [N, k] int32 in
 * [0, E), and gates [N, k] float32 only with dropPolicy 'score'. Outputs, in
 * order:
 *   dispatched    [M, D] float32  x's rows grouped by expert (the token's row
 *                                 for each pair; zeros in empty slots),
 *   expertOffsets [E + 1] int32   expert e owns rows [offsets[e], offsets[e+1]),
 *   sourceRows    [M] int32       pair index token·k + slot of each row, -1 in
 *                                 empty slots (combine and the gradients skip them),
 *   droppedCount  [] int32        pairs past their expert's capacity,
 *   expertCounts  [E] int32       pairs routed to each expert, before any drop.
 * Two layouts:
 * - dropless (capacity -1): ragged, M = P, each expert's rows in pair order.
 * - capacity C >= 0: static, M = E·C, offsets[e] = e·C, whatever the data: an
 *   expert's kept pairs fill its first slots in priority order and the rest of
 *   its C slots are empty. Nothing needs to be read back to shape the outputs.
 * Priority (dropPolicy): 'position' pair order t·k + s (MegaBlocks, DeepSpeed
 * topkgating 'position'); 'slotMajor' slot-major order s·N + t, every first
 * choice before any second choice (GShard, Switch/flaxformer, DeepSpeed
 * top2gating); 'score' descending gate, ties in pair order, a NaN gate last
 * (batch-prioritized routing, DeepSpeed topkgating 'probs'); the gate is
 * ranked clamped to finite float32, NaN as the lowest finite value, so NaN,
 * −Inf and −3.4028234663852886e38 tie (in pair order). An expert keeps
 * its first C pairs in that order.
 * Its gradient (w.r.t. x) sums each row back into its token, built from a
 * combine with unit gates, so a backend provides only this forward kernel.
 */
export const SluiceExpertDispatch = 'SluiceExpertDispatch';
export type SluiceExpertDispatchInputs = {
  x: TensorInfo;
  expertIndices: TensorInfo;
  /** [N, k] float32, only with dropPolicy 'score'. */
  gates?: TensorInfo;
};
export interface SluiceExpertDispatchAttrs {
  numExperts: number;
  /** -1: dropless (ragged layout); else the static layout's slots per expert, < N·k. */
  capacity: number;
  dropPolicy: ExpertDropPolicy;
}

/**
 * y[r] = x[r] · W[e] for the rows r of expert e (offsets as from dispatch);
 * with transposeWeights, x[r] · W[e]ᵀ. Inputs x [M, K], weights [E, K, H]
 * ([E, H, K] transposed), expertOffsets [E + 1] int32. Output [M, H].
 */
export const SluiceGroupedMatMul = 'SluiceGroupedMatMul';
export type SluiceGroupedMatMulInputs = {
  x: TensorInfo;
  weights: TensorInfo;
  expertOffsets: TensorInfo;
};
export interface SluiceGroupedMatMulAttrs {
  transposeWeights: boolean;
}

/** Gradient of `SluiceGroupedMatMul` (transposeWeights false): outputs dx [M, K], dWeights [E, K, H]. */
export const SluiceGroupedMatMulGrad = 'SluiceGroupedMatMulGrad';
export type SluiceGroupedMatMulGradInputs = {
  dy: TensorInfo;
  x: TensorInfo;
  weights: TensorInfo;
  expertOffsets: TensorInfo;
};

/**
 * out[t] = Σ gates[t, s] · y[r] over the rows r whose sourceRows[r] = t·k + s.
 * Inputs y [M, H], sourceRows [M] int32 in [-1, N·k), gates [N, k]. Output
 * [N, H]. A row with sourceRows -1 (an empty slot of the static layout) adds
 * nothing. The gradient is built from forward ops (gather, segment sum).
 */
export const SluiceExpertCombine = 'SluiceExpertCombine';
export type SluiceExpertCombineInputs = {
  y: TensorInfo;
  sourceRows: TensorInfo;
  gates: TensorInfo;
};

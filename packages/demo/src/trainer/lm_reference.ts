/**
 * Float64 reference of the causal LM in plain loops, written from
 * transformers' modeling_mixtral.py and modeling_glm4_moe.py (no tfjs, no
 * dispatch): every token runs through each chosen expert, each query head
 * through its key/value head. Weights are read by the model's own names and
 * layouts (see model/causal_lm.ts).
 */
import type {LMSpec} from '../model/config';

export type RefWeights = Map<string, Float64Array>;

/** y[o] = Σ_i W[o, i] x[i] (+ b[o]) for W [out, in], as torch's nn.Linear. */
function linear(x: ArrayLike<number>, w: Float64Array, out: number, bias?: Float64Array): Float64Array {
  const n = x.length, y = new Float64Array(out);
  for (let o = 0; o < out; ++o) {
    let s = bias ? bias[o] : 0;
    for (let i = 0; i < n; ++i) s += w[o * n + i] * x[i];
    y[o] = s;
  }
  return y;
}

/** y = x · W for W [in, out] (the MoE layer's layout). */
function vecMat(x: ArrayLike<number>, w: Float64Array, offset: number, cols: number): Float64Array {
  const y = new Float64Array(cols);
  for (let r = 0; r < x.length; ++r) {
    for (let c = 0; c < cols; ++c) y[c] += x[r] * w[offset + r * cols + c];
  }
  return y;
}

const silu = (a: number) => a / (1 + Math.exp(-a));

export function rmsNormRef(x: ArrayLike<number>, weight: ArrayLike<number>, eps: number): Float64Array {
  let ms = 0;
  for (let i = 0; i < x.length; ++i) ms += x[i] * x[i];
  const r = 1 / Math.sqrt(ms / x.length + eps);
  return Float64Array.from(x, (v, i) => v * r * weight[i]);
}

/** One head's vector at position t: the first r dims rotate by t·θ^(−2i/r) in rotate_half pairs (i, i + r/2). */
export function rotaryRef(x: ArrayLike<number>, t: number, rotaryDim: number, theta: number): Float64Array {
  const out = Float64Array.from(x), half = rotaryDim / 2;
  for (let i = 0; i < half; ++i) {
    const angle = t / Math.pow(theta, (2 * i) / rotaryDim);
    const c = Math.cos(angle), s = Math.sin(angle), a = x[i], b = x[i + half];
    out[i] = a * c - b * s;
    out[i + half] = b * c + a * s;
  }
  return out;
}

/**
 * Causal attention of one sequence: q[h][t], k[g][t], v[g][t] (vectors of
 * head_dim), query head h reading KV head ⌊h·G/H⌋; returns [T][H·hd].
 */
export function attentionRef(q: Float64Array[][], k: Float64Array[][], v: Float64Array[][]): Float64Array[] {
  const h = q.length, g = k.length, t = q[0].length, hd = q[0][0].length, rep = h / g;
  const out = Array.from({length: t}, () => new Float64Array(h * hd));
  for (let head = 0; head < h; ++head) {
    const kv = Math.floor(head / rep);
    for (let i = 0; i < t; ++i) {
      const scores = [];
      for (let j = 0; j <= i; ++j) {
        let s = 0;
        for (let c = 0; c < hd; ++c) s += q[head][i][c] * k[kv][j][c];
        scores.push(s / Math.sqrt(hd));
      }
      const m = Math.max(...scores);
      const p = scores.map(s => Math.exp(s - m));
      const z = p.reduce((a, b) => a + b, 0);
      for (let j = 0; j <= i; ++j) {
        for (let c = 0; c < hd; ++c) out[i][head * hd + c] += (p[j] / z) * v[kv][j][c];
      }
    }
  }
  return out;
}

export interface RouteRef {
  experts: number[];
  gates: number[];
}

/** Router of one token: scores (softmax or sigmoid), top-k by score + bias (ties to the lower index), gates. */
export function routeRef(logits: ArrayLike<number>, spec: LMSpec, bias: ArrayLike<number>): RouteRef {
  let scores: number[];
  if (spec.scoring === 'sigmoid') {
    scores = Array.from(logits, z => 1 / (1 + Math.exp(-z)));
  } else {
    const m = Math.max(...Array.from(logits));
    const e = Array.from(logits, z => Math.exp(z - m));
    const s = e.reduce((a, b) => a + b, 0);
    scores = e.map(v => v / s);
  }
  const experts = scores.map((s, j) => [s + bias[j], j]).sort((a, b) => b[0] - a[0] || a[1] - b[1])
                      .slice(0, spec.topK).map(p => p[1]);
  let gates = experts.map(j => scores[j]);
  if (spec.normalizeGates) {
    const sum = gates.reduce((a, b) => a + b, 0);
    gates = gates.map(x => x / sum);
  }
  return {experts, gates: gates.map(x => x * spec.routedScalingFactor)};
}

/** The MoE block of one token: routed SwiGLU experts plus the shared experts. */
export function moeBlockRef(x: ArrayLike<number>, spec: LMSpec, w: RefWeights, layer: number): Float64Array {
  const p = `model.layers.${layer}.mlp`, d = spec.hiddenSize, hid = spec.expertHidden;
  const router = w.get(`${p}.router`)!, w1 = w.get(`${p}.experts_w1`)!, w2 = w.get(`${p}.experts_w2`)!;
  const {experts, gates} = routeRef(vecMat(x, router, 0, spec.numExperts), spec, w.get(`${p}.selection_bias`)!);
  const out = new Float64Array(d);
  const ffn = (w1: Float64Array, o1: number, w2: Float64Array, o2: number, width: number, gate: number) => {
    const h = vecMat(x, w1, o1, 2 * width);
    const a = Float64Array.from({length: width}, (_, i) => silu(h[i]) * h[width + i]);
    const y = vecMat(a, w2, o2, d);
    for (let c = 0; c < d; ++c) out[c] += gate * y[c];
  };
  experts.forEach((e, slot) => ffn(w1, e * d * 2 * hid, w2, e * hid * d, hid, gates[slot]));
  if (spec.sharedExperts > 0) {
    ffn(w.get(`${p}.shared_w1`)!, 0, w.get(`${p}.shared_w2`)!, 0, spec.sharedExperts * hid, 1);
  }
  return out;
}

function denseMlpRef(x: ArrayLike<number>, spec: LMSpec, w: RefWeights, layer: number): Float64Array {
  const p = `model.layers.${layer}.mlp`, hid = spec.denseHidden;
  const g = linear(x, w.get(`${p}.gate_proj.weight`)!, hid), u = linear(x, w.get(`${p}.up_proj.weight`)!, hid);
  return linear(g.map((v, i) => silu(v) * u[i]), w.get(`${p}.down_proj.weight`)!, spec.hiddenSize);
}

function attentionLayerRef(x: Float64Array[], spec: LMSpec, w: RefWeights, layer: number): Float64Array[] {
  const p = `model.layers.${layer}.self_attn`, hd = spec.headDim;
  const project = (name: string, heads: number) => {
    const out = Array.from({length: heads}, () => [] as Float64Array[]);
    x.forEach((row, t) => {
      const y = linear(row, w.get(`${p}.${name}_proj.weight`)!, heads * hd, w.get(`${p}.${name}_proj.bias`));
      for (let h = 0; h < heads; ++h) {
        let vec: Float64Array = y.subarray(h * hd, (h + 1) * hd);
        if (name !== 'v' && spec.qkNorm) vec = rmsNormRef(vec, w.get(`${p}.${name}_norm.weight`)!, spec.rmsNormEps);
        if (name !== 'v') vec = rotaryRef(vec, t, spec.rotaryDim, spec.ropeTheta);
        out[h].push(vec);
      }
    });
    return out;
  };
  const att = attentionRef(project('q', spec.numHeads), project('k', spec.numKvHeads), project('v', spec.numKvHeads));
  return att.map(row => linear(row, w.get(`${p}.o_proj.weight`)!, spec.hiddenSize));
}

/** Final hidden states [B·T][D] and logits [B·T][V] of `batch` sequences of ids. */
export function forwardRef(spec: LMSpec, w: RefWeights, ids: ArrayLike<number>, batch: number):
    {hidden: Float64Array[], logits: Float64Array[]} {
  const t = ids.length / batch, d = spec.hiddenSize, embed = w.get('model.embed_tokens.weight')!;
  const hidden: Float64Array[] = [];
  for (let b = 0; b < batch; ++b) {
    let x = Array.from({length: t}, (_, i) => embed.slice(ids[b * t + i] * d, (ids[b * t + i] + 1) * d));
    for (let l = 0; l < spec.numLayers; ++l) {
      const p = `model.layers.${l}`;
      const att = attentionLayerRef(x.map(r => rmsNormRef(r, w.get(`${p}.input_layernorm.weight`)!, spec.rmsNormEps)),
                                    spec, w, l);
      x = x.map((r, i) => r.map((v, c) => v + att[i][c]));
      x = x.map(r => {
        const h = rmsNormRef(r, w.get(`${p}.post_attention_layernorm.weight`)!, spec.rmsNormEps);
        const y = l < spec.firstDenseLayers ? denseMlpRef(h, spec, w, l) : moeBlockRef(h, spec, w, l);
        return r.map((v, c) => v + y[c]);
      });
    }
    hidden.push(...x.map(r => rmsNormRef(r, w.get('model.norm.weight')!, spec.rmsNormEps)));
  }
  const head = w.get(spec.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight')!;
  return {hidden, logits: hidden.map(h => linear(h, head, spec.vocabSize))};
}

/** Mean next-token cross-entropy of the reference logits. */
export function lossRef(spec: LMSpec, w: RefWeights, inputs: ArrayLike<number>, targets: ArrayLike<number>,
                        batch: number): number {
  const {logits} = forwardRef(spec, w, inputs, batch);
  let sum = 0;
  logits.forEach((z, i) => {
    const m = Math.max(...Array.from(z));
    const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
    sum += lse - z[targets[i]];
  });
  return sum / logits.length;
}

/**
 * Float64 dense reference of the MoE layer's forward pass: every token runs
 * through each of its chosen experts with plain loops, no dispatch, no tfjs.
 */
import type {ExpertActivation, Router, Scoring} from '../config';

export interface RefWeights {
  router: Float64Array;   // [D, E]
  w1: Float64Array;       // [E, D, H'] (H' = 2H for swiglu)
  w2: Float64Array;       // [E, H, U]
  shared1?: Float64Array; // [D, S·H']
  shared2?: Float64Array; // [S·H, U]
  bias: Float64Array;     // [E] selection bias
}

export interface RefConfig {
  e: number; k: number; d: number; h: number; u: number; s: number;
  activation: ExpertActivation;
  router: Router;
  scoring: Scoring;
  capacity?: number;       // per expert (slots routers); undefined = dropless
  sinkhornIterations: number;
  /** Renormalise each token's gates to sum 1 (default k > 1). */
  normalize?: boolean;
  /** routedScalingFactor: multiplies the routed gates after renormalisation (default 1). */
  scale?: number;
  dropPolicy?: 'position'|'slotMajor'|'score';
  renormalizeAfterDrop?: boolean;
  groups?: {numGroups: number, topKGroups: number}|null;
}

function act(v: Float64Array, activation: ExpertActivation): Float64Array {
  if (activation === 'relu') return v.map(x => Math.max(0, x));
  if (activation === 'gelu') {
    const c = Math.sqrt(2 / Math.PI);
    return v.map(x => 0.5 * x * (1 + Math.tanh(c * (x + 0.044715 * x * x * x))));
  }
  const half = v.length / 2;
  const out = new Float64Array(half);
  for (let i = 0; i < half; ++i) {
    const a = v[i];
    out[i] = a / (1 + Math.exp(-a)) * v[half + i];
  }
  return out;
}

/** x[1×D] · W[D×M] where W starts at `offset` in `w`. */
function vecMat(x: ArrayLike<number>, w: Float64Array, offset: number, rows: number, cols: number): Float64Array {
  const out = new Float64Array(cols);
  for (let r = 0; r < rows; ++r) {
    const xr = x[r];
    for (let c = 0; c < cols; ++c) out[c] += xr * w[offset + r * cols + c];
  }
  return out;
}

function ffn(x: ArrayLike<number>, w1: Float64Array, o1: number, w2: Float64Array, o2: number, d: number, h: number,
             u: number, activation: ExpertActivation): Float64Array {
  const wide = activation === 'swiglu' ? 2 * h : h;
  return vecMat(act(vecMat(x, w1, o1, d, wide), activation), w2, o2, h, u);
}

export function scoresOf(logits: Float64Array, scoring: Scoring): Float64Array {
  if (scoring === 'sigmoid') return logits.map(z => 1 / (1 + Math.exp(-z)));
  const m = Math.max(...logits);
  const ex = logits.map(z => Math.exp(z - m));
  const s = ex.reduce((a, b) => a + b, 0);
  return ex.map(v => v / s);
}

/** Indices of the k largest, ties to the lower index. */
function topIndices(values: ArrayLike<number>, k: number): number[] {
  return Array.from(values, (v, i) => [v, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, k).map(p => p[1]);
}

export interface RefForward {
  output: Float64Array;  // [N, U]
  counts: Float64Array;  // [E] routed pairs per expert
  dropped: number;
}

export function moeReferenceForward(x: Float32Array, n: number, w: RefWeights, cfg: RefConfig): RefForward {
  const {e, k, d, h, u} = cfg;
  const wide = cfg.activation === 'swiglu' ? 2 * h : h;
  const output = new Float64Array(n * u);
  const counts = new Float64Array(e);
  const scores: Float64Array[] = [];
  for (let i = 0; i < n; ++i) {
    scores.push(scoresOf(vecMat(x.subarray(i * d, (i + 1) * d), w.router, 0, d, e), cfg.scoring));
  }
  const addExpert = (i: number, expert: number, gate: number) => {
    const y = ffn(x.subarray(i * d, (i + 1) * d), w.w1, expert * d * wide, w.w2, expert * h * u, d, h, u,
                  cfg.activation);
    for (let c = 0; c < u; ++c) output[i * u + c] += gate * y[c];
  };
  let dropped = 0;
  if (cfg.router === 'expertChoice') {
    const c = Math.min(cfg.capacity!, n);
    for (let ex = 0; ex < e; ++ex) {
      const column = scores.map(s => s[ex]);
      for (const i of topIndices(column, c)) addExpert(i, ex, column[i] * (cfg.scale ?? 1));
      counts[ex] = c;
    }
  } else {
    let choices: number[][];
    if (cfg.router === 'sinkhorn') {
      choices = sinkhornChoices(x, n, w, cfg);
    } else if (cfg.router === 'stochastic') {
      choices = Array.from({length: n}, () => Array.from({length: e}, (_, j) => j));  // inference: all experts
    } else {
      choices = scores.map(s => {
        const biased = s.map((v, j) => v + w.bias[j]);
        if (cfg.groups == null) return topIndices(biased, k);
        // DeepSeek-V3's group limit: keep the groups with the largest sum of their two best biased scores.
        const size = e / cfg.groups.numGroups;
        const groupScore = Array.from({length: cfg.groups.numGroups}, (_, g) =>
            Array.from(biased.slice(g * size, (g + 1) * size)).sort((a, b) => b - a).slice(0, 2)
                .reduce((a, b) => a + b, 0));
        const keptGroups = new Set(topIndices(groupScore, cfg.groups.topKGroups));
        return topIndices(biased.map((v, j) => (keptGroups.has(Math.floor(j / size)) ? v : -Infinity)), k);
      });
    }
    const gatesOf = choices.map((chosen, i) => {
      if (cfg.router === 'stochastic') return chosen.map(() => 1 / e);
      const g = chosen.map(j => scores[i][j]);
      const sum = g.reduce((a, b) => a + b, 0);
      return (cfg.normalize ?? k > 1) ? g.map(v => v / sum) : g;
    });
    // Which (token, slot) pairs keep a slot: per expert, its pairs in the drop policy's order, the first C.
    const kept = choices.map(chosen => chosen.map(() => true));
    if (cfg.capacity !== undefined) {
      const policy = cfg.dropPolicy ?? 'position';
      for (let ex = 0; ex < e; ++ex) {
        const pairs: Array<[number, number]> = [];
        choices.forEach((chosen, i) => chosen.forEach((j, slot) => { if (j === ex) pairs.push([i, slot]); }));
        const key = ([i, slot]: [number, number]) =>
            policy === 'slotMajor' ? [slot, i] : policy === 'score' ? [-gatesOf[i][slot], i * k + slot] : [i, slot];
        pairs.sort((a, b) => key(a)[0] - key(b)[0] || key(a)[1] - key(b)[1]);
        pairs.slice(cfg.capacity).forEach(([i, slot]) => { kept[i][slot] = false; ++dropped; });
      }
    }
    choices.forEach((chosen, i) => {
      let gates = gatesOf[i].map((g, slot) => (kept[i][slot] ? g : 0));
      if (cfg.capacity !== undefined && cfg.renormalizeAfterDrop) {
        // The kept slots get the token's whole gate mass (its routed gates' sum) back.
        const mass = gatesOf[i].reduce((a, b) => a + b, 0);
        const sum = gates.reduce((a, b) => a + b, 0);
        gates = gates.map(g => g * mass / Math.max(sum, 1.1920928955078125e-7));
      }
      gates = gates.map(g => g * (cfg.scale ?? 1));
      chosen.forEach((j, slot) => {
        counts[j] += 1;
        if (kept[i][slot]) addExpert(i, j, gates[slot]);
      });
    });
  }
  if (cfg.s > 0 && w.shared1 && w.shared2) {
    for (let i = 0; i < n; ++i) {
      const y = ffn(x.subarray(i * d, (i + 1) * d), w.shared1, 0, w.shared2, 0, d, cfg.s * h, u, cfg.activation);
      for (let c = 0; c < u; ++c) output[i * u + c] += y[c];
    }
  }
  return {output, counts, dropped};
}

function sinkhornChoices(x: Float32Array, n: number, w: RefWeights, cfg: RefConfig): number[][] {
  const {e, d} = cfg;
  const plan = [];
  for (let i = 0; i < n; ++i) {
    const z = vecMat(x.subarray(i * d, (i + 1) * d), w.router, 0, d, e);
    const m = Math.max(...z);
    plan.push(z.map(v => Math.exp(v - m)));
  }
  for (let t = 0; t < cfg.sinkhornIterations; ++t) {
    for (let j = 0; j < e; ++j) {
      let col = 0;
      for (let i = 0; i < n; ++i) col += plan[i][j];
      for (let i = 0; i < n; ++i) plan[i][j] *= (n / e) / col;
    }
    for (let i = 0; i < n; ++i) {
      const row = plan[i].reduce((a, b) => a + b, 0);
      for (let j = 0; j < e; ++j) plan[i][j] /= row;
    }
  }
  return plan.map(p => topIndices(p, cfg.k));
}

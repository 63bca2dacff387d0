/**
 * The layer's configuration: the fields of DESIGN.md, their defaults, and
 * validation that names the field, the expected and the actual value.
 */
import {fail as coreFail} from '@sluice/core/internal';

export type Router = 'topk'|'expertChoice'|'sinkhorn'|'stochastic';
export type Scoring = 'softmax'|'sigmoid';
export type ExpertActivation = 'gelu'|'relu'|'swiglu';
export type AuxLossScope = 'micro'|'global';

export interface BalanceConfig {
  /** Switch/GShard load-balancing loss weight: E · Σ_e f_e · P_e. Default 0. */
  auxLoss?: number;
  /**
   * 'micro' (default): f_e from this call's tokens. 'global': f_e from the
   * expert counts of every call since the last `resetGlobalBalance()`
   * (the micro-batches of one optimizer step; `MoEStepCallback` resets it
   * after each batch of `model.fit`).
   */
  auxLossScope?: AuxLossScope;
  /** Router z-loss weight: mean over tokens of logsumexp(router logits)². Default 0. */
  routerZLoss?: number;
  /**
   * Aux-loss-free balancing (DeepSeek-V3): after each training call the
   * non-trainable selection bias moves by b_e += rate · sign(mean load − load_e). Default 0 (off).
   */
  biasUpdateRate?: number;
  /** Weight of the orthogonality loss between the outputs of a token's selected experts. Default 0. */
  orthogonality?: number;
  /** Weight of the routing-variance loss (−variance of each token's router scores). Default 0. */
  variance?: number;
}

export interface MixtureOfExpertsConfig {
  numExperts: number;
  topK?: number;
  /** Output size. */
  units: number;
  /** Hidden size of each expert's feed-forward network. */
  hiddenUnits: number;
  activation?: ExpertActivation;
  router?: Router;
  scoring?: Scoring;
  /** capacity = ceil(factor · N · k / E) per expert; 0 (default) = dropless. */
  capacityFactor?: number;
  /** Always-on experts (one dense FFN of sharedExperts · hiddenUnits). Default 0. */
  sharedExperts?: number;
  /**
   * Renormalise each token's k gates to sum 1 (transformers' `norm_topk_prob`; Mixtral always does, also at
   * k = 1, where every gate becomes 1). Default: topK > 1. Token-choice routers ('topk', 'sinkhorn') only.
   */
  normalizeGates?: boolean;
  /**
   * Factor on the routed experts' gates after any renormalisation (DeepSeek-V3's and Glm4Moe's
   * `routed_scaling_factor`); shared experts are not scaled. Default 1.
   */
  routedScalingFactor?: number;
  balance?: BalanceConfig;
  /** Sinkhorn iterations for router 'sinkhorn'. Default 8. */
  sinkhornIterations?: number;
  /** Seed of the stochastic router's draws. */
  seed?: number;
  name?: string;
  trainable?: boolean;
  /** As for any first layer of a tf.sequential model. */
  inputShape?: Array<number|null>;
  batchInputShape?: Array<number|null>;
  batchSize?: number;
}

export interface ResolvedConfig {
  numExperts: number;
  topK: number;
  units: number;
  hiddenUnits: number;
  activation: ExpertActivation;
  router: Router;
  scoring: Scoring;
  capacityFactor: number;
  sharedExperts: number;
  normalizeGates: boolean;
  routedScalingFactor: number;
  balance: Required<BalanceConfig>;
  sinkhornIterations: number;
  seed: number;
}

const WHERE = 'mixtureOfExperts';

function fail(field: string, expected: string, actual: unknown): never {
  coreFail(WHERE, field, expected, describe(actual));
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (v === undefined) return 'undefined';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function positiveInt(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(field, 'a positive integer', v);
  return v;
}

function nonNegative(field: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(field, 'a finite number >= 0', v);
  return v;
}

function oneOf<T extends string>(field: string, v: unknown, options: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (!options.includes(v as T)) fail(field, `one of ${options.map(o => `'${o}'`).join(', ')}`, v);
  return v as T;
}

const KNOWN = ['numExperts', 'topK', 'units', 'hiddenUnits', 'activation', 'router', 'scoring', 'capacityFactor',
               'sharedExperts', 'normalizeGates', 'routedScalingFactor', 'balance', 'sinkhornIterations', 'seed', 'name', 'trainable', 'inputShape',
               'batchInputShape', 'batchSize', 'dtype', 'weights', 'inputDType', 'customObjects'];
const KNOWN_BALANCE = ['auxLoss', 'auxLossScope', 'routerZLoss', 'biasUpdateRate', 'orthogonality', 'variance'];

export function resolveConfig(config: MixtureOfExpertsConfig): ResolvedConfig {
  if (config == null || typeof config !== 'object') fail('config', 'an object', config);
  for (const key of Object.keys(config)) {
    if (!KNOWN.includes(key)) fail(`config.${key}`, `one of the known fields (${KNOWN.slice(0, 12).join(', ')})`, key);
  }
  const numExperts = positiveInt('numExperts', config.numExperts);
  const topK = config.topK === undefined ? 1 : positiveInt('topK', config.topK);
  if (topK > numExperts) fail('topK', `<= numExperts (${numExperts})`, topK);
  const balance = config.balance ?? {};
  if (typeof balance !== 'object') fail('balance', 'an object', balance);
  for (const key of Object.keys(balance)) {
    if (!KNOWN_BALANCE.includes(key)) fail(`balance.${key}`, `one of ${KNOWN_BALANCE.join(', ')}`, key);
  }
  const sinkhornIterations =
      config.sinkhornIterations === undefined ? 8 : positiveInt('sinkhornIterations', config.sinkhornIterations);
  const router = oneOf('router', config.router, ['topk', 'expertChoice', 'sinkhorn', 'stochastic'] as const, 'topk');
  if (config.normalizeGates !== undefined) {
    if (typeof config.normalizeGates !== 'boolean') fail('normalizeGates', 'a boolean', config.normalizeGates);
    if (router !== 'topk' && router !== 'sinkhorn') {
      fail('normalizeGates', `unset with router '${router}' (its gates are not per-token top-k scores)`,
           config.normalizeGates);
    }
  }
  const routedScalingFactor = config.routedScalingFactor ?? 1;
  if (typeof routedScalingFactor !== 'number' || !Number.isFinite(routedScalingFactor) || routedScalingFactor <= 0) {
    fail('routedScalingFactor', 'a finite number > 0', routedScalingFactor);
  }
  const seed = config.seed ?? 1;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) fail('seed', 'a finite number', seed);
  return {
    numExperts,
    topK,
    units: positiveInt('units', config.units),
    hiddenUnits: positiveInt('hiddenUnits', config.hiddenUnits),
    activation: oneOf('activation', config.activation, ['gelu', 'relu', 'swiglu'] as const, 'gelu'),
    router,
    scoring: oneOf('scoring', config.scoring, ['softmax', 'sigmoid'] as const, 'softmax'),
    capacityFactor: nonNegative('capacityFactor', config.capacityFactor, 0),
    sharedExperts: config.sharedExperts === undefined || config.sharedExperts === 0 ?
        0 :
        positiveInt('sharedExperts', config.sharedExperts),
    normalizeGates: config.normalizeGates ?? topK > 1,
    routedScalingFactor,
    balance: {
      auxLoss: nonNegative('balance.auxLoss', balance.auxLoss, 0),
      auxLossScope: oneOf('balance.auxLossScope', balance.auxLossScope, ['micro', 'global'] as const, 'micro'),
      routerZLoss: nonNegative('balance.routerZLoss', balance.routerZLoss, 0),
      biasUpdateRate: nonNegative('balance.biasUpdateRate', balance.biasUpdateRate, 0),
      orthogonality: nonNegative('balance.orthogonality', balance.orthogonality, 0),
      variance: nonNegative('balance.variance', balance.variance, 0),
    },
    sinkhornIterations,
    seed,
  };
}

/** Per-expert capacity for `tokens` tokens, or undefined when dropless. */
export function expertCapacity(cfg: ResolvedConfig, tokens: number): number|undefined {
  if (cfg.capacityFactor === 0) return undefined;
  return Math.ceil(cfg.capacityFactor * tokens * cfg.topK / cfg.numExperts);
}

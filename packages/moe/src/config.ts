/**
 * The layer's configuration: the fields of DESIGN.md, their defaults, and
 * validation with core's error helpers (`<where>: <field> must be
 * <expected>, got <actual>`, strings quoted as JSON).
 */
import {assertFiniteNumber, assertInteger, assertKnownKeys, assertOneOf, describeValue, fail,
        resolveGroupLimit} from '@sluice/core/internal';
import type {ExpertDropPolicy} from '@sluice/core';

export type Router = 'topk'|'expertChoice'|'sinkhorn'|'stochastic';
export type Scoring = 'softmax'|'sigmoid';
export type ExpertActivation = 'gelu'|'relu'|'swiglu';
export type AuxLossScope = 'micro'|'global';
export type AuxLossConvention = 'pairs'|'tokens';
export type DropPolicy = ExpertDropPolicy;

export interface BalanceConfig {
  /** Load-balancing loss weight: E · Σ_e f_e · P_e, f_e as `auxLossConvention` says. Default 0. */
  auxLoss?: number;
  /**
   * How f_e counts the routed (token, slot) pairs of expert e:
   * 'pairs' (default): pairs_e / (N·k), as MegaBlocks and DeepSpeed's
   * topkgating (1 when balanced); 'tokens': pairs_e / N, as transformers'
   * Mixtral `load_balancing_loss_func` and Switch/flaxformer (k when
   * balanced). 'tokens' is k times 'pairs': the same gradient takes
   * auxLoss_pairs = k · auxLoss_tokens.
   */
  auxLossConvention?: AuxLossConvention;
  /**
   * 'micro' (default): f_e from this call's tokens. 'global': f_e from the
   * expert counts of every training call since the last `endStep()` (the
   * micro-batches of one optimizer step; `moeCallback` ends the step after
   * each batch of `model.fit`).
   */
  auxLossScope?: AuxLossScope;
  /** Router z-loss weight: mean over tokens of logsumexp(router logits)². Default 0. */
  routerZLoss?: number;
  /**
   * Aux-loss-free balancing (DeepSeek-V3): once per optimizer step
   * (`endStep()`), from the expert counts summed over that step's training
   * calls, the non-trainable selection bias moves by
   * b_e += rate · sign(mean load − load_e). Default 0 (off).
   */
  biasUpdateRate?: number;
  /** Subtract the update's mean, so the bias does not drift (torchtitan). Default false. */
  centerBiasUpdate?: boolean;
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
  /**
   * capacity = max(minCapacity, ⌈capacityFactor · N · k / E⌉) slots per
   * expert, computed exactly (see `expertCapacity`); 0 (default) = dropless.
   * The stochastic router is dropless at inference whatever the factor (it
   * then routes every token to all E experts, the training draw's expectation).
   */
  capacityFactor?: number;
  /** Lower bound of the capacity (DeepSpeed's min_capacity). Default 0; needs capacityFactor > 0. */
  minCapacity?: number;
  /**
   * Which pairs an expert keeps first past its capacity: 'position' (default), 'slotMajor', 'score'.
   * Another value needs capacityFactor > 0 and a token-choice router.
   */
  dropPolicy?: DropPolicy;
  /**
   * After drops, give each token's kept slots its whole gate mass back:
   * kept gates · Σ gates / Σ kept gates (0 when every slot dropped), so a
   * token that lost nothing keeps its gates as they were. With normalised
   * gates (normalizeGates, default for topK > 1) that is GShard's and
   * DeepSpeed top2gating's renormalisation to sum 1; with normalizeGates
   * false (gates summing to, say, 0.7) the kept gates sum to 0.7 again.
   * Default false; true needs capacityFactor > 0 and a token-choice router.
   */
  renormalizeAfterDrop?: boolean;
  /** Group-limited routing (router 'topk'): experts in `numGroups` equal groups... */
  numGroups?: number;
  /** ...of which each token keeps the `topKGroups` best (sum of each group's two best biased scores). */
  topKGroups?: number;
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
  minCapacity: number;
  dropPolicy: DropPolicy;
  renormalizeAfterDrop: boolean;
  groups: {numGroups: number, topKGroups: number}|null;
  sharedExperts: number;
  normalizeGates: boolean;
  routedScalingFactor: number;
  balance: Required<BalanceConfig>;
  sinkhornIterations: number;
  seed: number;
}

const WHERE = 'mixtureOfExperts';
const CAPACITY = 'exactCeilCapacity';

const positiveInt = (field: string, v: unknown) => assertInteger(WHERE, field, v, 1);
const nonNegative = (field: string, v: unknown, fallback: number) =>
    v === undefined ? fallback : assertFiniteNumber(WHERE, field, v, 0);
const oneOf = <T extends string>(field: string, v: unknown, options: readonly T[], fallback: T): T =>
    v === undefined ? fallback : assertOneOf(WHERE, field, v, options);

function flag(field: string, v: unknown): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') fail(WHERE, field, 'a boolean', describeValue(v));
  return v;
}

const KNOWN = ['numExperts', 'topK', 'units', 'hiddenUnits', 'activation', 'router', 'scoring', 'capacityFactor',
               'minCapacity', 'dropPolicy', 'renormalizeAfterDrop', 'numGroups', 'topKGroups', 'sharedExperts',
               'normalizeGates', 'routedScalingFactor', 'balance', 'sinkhornIterations', 'seed', 'name', 'trainable', 'inputShape', 'batchInputShape',
               'batchSize', 'dtype', 'weights', 'inputDType', 'customObjects'];
const KNOWN_BALANCE = ['auxLoss', 'auxLossConvention', 'auxLossScope', 'routerZLoss', 'biasUpdateRate',
                       'centerBiasUpdate', 'orthogonality', 'variance'];

const GROUP_NAMES = {numGroups: 'numGroups', topKGroups: 'topKGroups', numExperts: 'numExperts', k: 'topK'};

function resolveGroups(config: MixtureOfExpertsConfig, numExperts: number, topK: number, router: Router) {
  if (config.numGroups === undefined && config.topKGroups === undefined) return null;
  if (router !== 'topk') {
    fail(WHERE, config.numGroups !== undefined ? 'numGroups' : 'topKGroups',
         `left out unless router is 'topk' (groups limit top-k selection)`, `router '${router}'`);
  }
  return resolveGroupLimit(WHERE, GROUP_NAMES, config.numGroups, config.topKGroups, numExperts, topK);
}

/**
 * dropPolicy and renormalizeAfterDrop act on the pairs a capacity drops: with
 * no capacity (capacityFactor 0) or expert choice (each expert picks its
 * tokens) a value other than the default would do nothing, so it is refused
 * as minCapacity is.
 */
function assertDropOption(field: string, value: unknown, defaultValue: unknown, capacityFactor: number,
                          router: Router) {
  if (value === defaultValue) return;
  const expected = `${describeValue(defaultValue)} (the default)`;
  if (router === 'expertChoice') {
    fail(WHERE, field, `${expected} with router 'expertChoice' (each expert picks its tokens: no pair is dropped)`,
         describeValue(value));
  }
  if (capacityFactor === 0) {
    fail(WHERE, field, `${expected} when capacityFactor is 0 (dropless routing drops nothing)`, describeValue(value));
  }
}

export function resolveConfig(config: MixtureOfExpertsConfig): ResolvedConfig {
  assertKnownKeys(WHERE, 'config', config, KNOWN);
  const numExperts = positiveInt('numExperts', config.numExperts);
  const topK = config.topK === undefined ? 1 : positiveInt('topK', config.topK);
  if (topK > numExperts) fail(WHERE, 'topK', `<= numExperts (${numExperts})`, String(topK));
  const balance = config.balance ?? {};
  assertKnownKeys(WHERE, 'balance', balance, KNOWN_BALANCE);
  const sinkhornIterations =
      config.sinkhornIterations === undefined ? 8 : positiveInt('sinkhornIterations', config.sinkhornIterations);
  const seed = config.seed ?? 1;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) fail(WHERE, 'seed', 'a finite number', describeValue(seed));
  const router = oneOf('router', config.router, ['topk', 'expertChoice', 'sinkhorn', 'stochastic'] as const, 'topk');
  if (config.normalizeGates !== undefined) {
    if (typeof config.normalizeGates !== 'boolean') {
      fail(WHERE, 'normalizeGates', 'a boolean', describeValue(config.normalizeGates));
    }
    if (router !== 'topk' && router !== 'sinkhorn') {
      fail(WHERE, 'normalizeGates', `unset with router '${router}' (its gates are not per-token top-k scores)`,
           describeValue(config.normalizeGates));
    }
  }
  const routedScalingFactor = config.routedScalingFactor ?? 1;
  if (typeof routedScalingFactor !== 'number' || !Number.isFinite(routedScalingFactor) || routedScalingFactor <= 0) {
    fail(WHERE, 'routedScalingFactor', 'a finite number > 0', describeValue(routedScalingFactor));
  }
  const capacityFactor = nonNegative('capacityFactor', config.capacityFactor, 0);
  const minCapacity = config.minCapacity === undefined ? 0 : assertInteger(WHERE, 'minCapacity', config.minCapacity, 0);
  if (minCapacity > 0 && capacityFactor === 0 && router !== 'expertChoice') {
    fail(WHERE, 'minCapacity', '0 when capacityFactor is 0 (dropless routing has no capacity)', String(minCapacity));
  }
  const dropPolicy = oneOf('dropPolicy', config.dropPolicy, ['position', 'slotMajor', 'score'] as const, 'position');
  assertDropOption('dropPolicy', dropPolicy, 'position', capacityFactor, router);
  const renormalizeAfterDrop = flag('renormalizeAfterDrop', config.renormalizeAfterDrop);
  assertDropOption('renormalizeAfterDrop', renormalizeAfterDrop, false, capacityFactor, router);
  const biasUpdateRate = nonNegative('balance.biasUpdateRate', balance.biasUpdateRate, 0);
  if (biasUpdateRate > 0 && router !== 'topk') {
    fail(WHERE, 'balance.biasUpdateRate', `0 unless router is 'topk' (the bias shifts top-k selection)`,
         `${biasUpdateRate} with router '${router}'`);
  }
  return {
    numExperts,
    topK,
    units: positiveInt('units', config.units),
    hiddenUnits: positiveInt('hiddenUnits', config.hiddenUnits),
    activation: oneOf('activation', config.activation, ['gelu', 'relu', 'swiglu'] as const, 'gelu'),
    router,
    scoring: oneOf('scoring', config.scoring, ['softmax', 'sigmoid'] as const, 'softmax'),
    capacityFactor,
    minCapacity,
    dropPolicy,
    renormalizeAfterDrop,
    groups: resolveGroups(config, numExperts, topK, router),
    sharedExperts: config.sharedExperts === undefined || config.sharedExperts === 0 ?
        0 :
        positiveInt('sharedExperts', config.sharedExperts),
    normalizeGates: config.normalizeGates ?? topK > 1,
    routedScalingFactor,
    balance: {
      auxLoss: nonNegative('balance.auxLoss', balance.auxLoss, 0),
      auxLossConvention: oneOf('balance.auxLossConvention', balance.auxLossConvention, ['pairs', 'tokens'] as const,
                               'pairs'),
      auxLossScope: oneOf('balance.auxLossScope', balance.auxLossScope, ['micro', 'global'] as const, 'micro'),
      routerZLoss: nonNegative('balance.routerZLoss', balance.routerZLoss, 0),
      biasUpdateRate,
      centerBiasUpdate: flag('balance.centerBiasUpdate', balance.centerBiasUpdate),
      orthogonality: nonNegative('balance.orthogonality', balance.orthogonality, 0),
      variance: nonNegative('balance.variance', balance.variance, 0),
    },
    sinkhornIterations,
    seed,
  };
}

/**
 * ⌈factor · pairs / E⌉ exactly, the factor taken as the decimal number
 * JavaScript prints for it (`String(factor)`: 1.1 is 11/10, not the double
 * 1.100000000000000088...). In floating point 1.1 · 100 · 2 / 4 is
 * 55.000000000000007 and its ceiling 56; exactly it is 55. The arithmetic
 * runs on BigInt numerator and denominator, so no product rounds. factor
 * must be a finite number >= 0, pairs an integer >= 0 and numExperts an
 * integer >= 1 (else it throws, naming the argument).
 */
export function exactCeilCapacity(factor: number, pairs: number, numExperts: number): number {
  assertFiniteNumber(CAPACITY, 'factor', factor, 0);
  assertInteger(CAPACITY, 'pairs', pairs, 0);
  assertInteger(CAPACITY, 'numExperts', numExperts, 1);
  const [mantissa, exponentText] = String(factor).split('e');
  const exponent = Number(exponentText ?? 0);
  const [whole, fraction = ''] = mantissa.split('.');
  let numerator = BigInt(whole + fraction) * BigInt(pairs);
  let denominator = BigInt(numExperts);
  const shift = exponent - fraction.length;  // factor = (whole fraction as an integer) · 10^shift
  // BigInt(...) calls, not literals: the packages target ES2019.
  const ten = BigInt(10), one = BigInt(1);
  if (shift >= 0) numerator *= ten ** BigInt(shift);
  else denominator *= ten ** BigInt(-shift);
  return Number((numerator + denominator - one) / denominator);
}

/**
 * Slots per expert for `tokens` tokens: max(minCapacity, ⌈capacityFactor · N · k / E⌉)
 * with the ceiling exact (`exactCeilCapacity`); undefined when dropless.
 */
export function expertCapacity(cfg: ResolvedConfig, tokens: number): number|undefined {
  if (cfg.capacityFactor === 0) return undefined;
  return Math.max(cfg.minCapacity, exactCeilCapacity(cfg.capacityFactor, tokens * cfg.topK, cfg.numExperts));
}

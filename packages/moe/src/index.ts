/**
 * @sluice/moe: a tf.layers mixture-of-experts layer on sluice's sparse
 * dispatch ops, with routers, load balancing and per-step metrics.
 *
 * ```js
 * import * as tf from '@tensorflow/tfjs';
 * import {mixtureOfExperts, moeCallback} from '@sluice/moe';
 *
 * const model = tf.sequential({layers: [
 *   tf.layers.dense({inputShape: [32], units: 64}),
 *   mixtureOfExperts({numExperts: 8, topK: 2, units: 64, hiddenUnits: 128,
 *                     balance: {auxLoss: 0.01, biasUpdateRate: 0.001}}),
 *   tf.layers.dense({units: 10}),
 * ]});
 * ```
 */
export {mixtureOfExperts, MixtureOfExperts} from './mixture_of_experts';
export type {MoEMetrics} from './mixture_of_experts';
export type {AuxLossConvention, AuxLossScope, BalanceConfig, DropPolicy, ExpertActivation, MixtureOfExpertsConfig, Router,
             Scoring} from './config';
export {exactCeilCapacity} from './config';
export {moeCallback, moeLayers} from './callbacks';
export type {MoECallbackOptions} from './callbacks';
export {loadBalancingLoss, orthogonalityLoss, routerZLoss, routingVarianceLoss, updatedSelectionBias} from './balancing';
export type {LoadBalancingLossOptions} from './balancing';
export {exportTransformersWeights, importTransformersWeights, moeConfigFromTransformers, TRANSFORMERS_FLOAT_FIELDS,
        TRANSFORMERS_TARGETS, transformersConfigJson, transformersMoeConfig, weightKeys} from './transformers';
export type {ExpertLayout, KeySource, KeySpec, TransformersTarget, TransformersWeightOptions,
             WeightValue} from './transformers';

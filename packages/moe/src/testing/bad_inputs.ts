/**
 * @sluice/moe's bad-input table: wrong layer configs, inputs at call time,
 * callbacks and balancing losses, run by core's `describeBadInputs` on every env.
 */
import * as tf from '@tensorflow/tfjs-core';
import {ALL_ENVS, Constraints} from '@tensorflow/tfjs-core/dist/jasmine_util';
import type {LayersModel} from '@tensorflow/tfjs-layers';
import {BadInput, describeBadInputs, Made} from '@sluice/core/testing';

import {exactCeilCapacity, loadBalancingLoss, mixtureOfExperts, MixtureOfExperts, MixtureOfExpertsConfig, moeCallback,
        moeLayers, orthogonalityLoss, routerZLoss, routingVarianceLoss, updatedSelectionBias} from '../index';

type T1 = tf.Tensor1D;
type T2 = tf.Tensor2D;
type T3 = tf.Tensor3D;

const MOE = {numExperts: 2, units: 2, hiddenUnits: 2};
const moeConfig = (extra: Record<string, unknown>) => ({...MOE, ...extra}) as unknown as MixtureOfExpertsConfig;
const fakeModel = {layers: []} as unknown as LayersModel;
const layer = (m: Made, config: MixtureOfExpertsConfig): MixtureOfExperts => m.track(mixtureOfExperts(config));

export const MOE_BAD_INPUTS: BadInput[] = [
  // ---- mixtureOfExperts config ----
  {name: 'mixtureOfExperts: config null', call: () => mixtureOfExperts(null as unknown as MixtureOfExpertsConfig),
   argument: 'config', expected: 'an object', actual: 'got null'},
  {name: 'mixtureOfExperts: numExperts a string', call: () => mixtureOfExperts(moeConfig({numExperts: '4'})),
   argument: 'numExperts', expected: 'an integer', actual: 'got "4"'},
  {name: 'mixtureOfExperts: units missing', call: () => mixtureOfExperts(moeConfig({units: undefined})),
   argument: 'units', expected: 'an integer', actual: 'got undefined'},
  {name: 'mixtureOfExperts: topK 0', call: () => mixtureOfExperts(moeConfig({topK: 0})),
   argument: 'topK', expected: 'an integer >= 1', actual: 'got 0'},
  {name: 'mixtureOfExperts: topK fractional', call: () => mixtureOfExperts(moeConfig({topK: 1.5})),
   argument: 'topK', expected: 'an integer', actual: 'got 1.5'},
  {name: 'mixtureOfExperts: topK > numExperts', call: () => mixtureOfExperts(moeConfig({topK: 3})),
   argument: 'topK', expected: '<= numExperts (2)', actual: 'got 3'},
  {name: 'mixtureOfExperts: capacityFactor NaN', call: () => mixtureOfExperts(moeConfig({capacityFactor: NaN})),
   argument: 'capacityFactor', expected: 'a finite number', actual: 'got NaN'},
  {name: 'mixtureOfExperts: capacityFactor Infinity',
   call: () => mixtureOfExperts(moeConfig({capacityFactor: Infinity})),
   argument: 'capacityFactor', expected: 'a finite number', actual: 'got Infinity'},
  {name: 'mixtureOfExperts: sharedExperts negative', call: () => mixtureOfExperts(moeConfig({sharedExperts: -1})),
   argument: 'sharedExperts', expected: 'an integer >= 1', actual: 'got -1'},
  {name: 'mixtureOfExperts: sinkhornIterations 0', call: () => mixtureOfExperts(moeConfig({router: 'sinkhorn',
                                                                                            sinkhornIterations: 0})),
   argument: 'sinkhornIterations', expected: 'an integer >= 1', actual: 'got 0'},
  {name: 'mixtureOfExperts: seed NaN', call: () => mixtureOfExperts(moeConfig({seed: NaN})),
   argument: 'seed', expected: 'a finite number', actual: 'got NaN'},
  {name: 'mixtureOfExperts: unknown router', call: () => mixtureOfExperts(moeConfig({router: 'switch'})),
   argument: 'router', expected: `one of 'topk', 'expertChoice', 'sinkhorn', 'stochastic'`, actual: 'got "switch"'},
  {name: 'mixtureOfExperts: unknown scoring', call: () => mixtureOfExperts(moeConfig({scoring: 'softplus'})),
   argument: 'scoring', expected: `one of 'softmax', 'sigmoid'`, actual: 'got "softplus"'},
  {name: 'mixtureOfExperts: unknown activation', call: () => mixtureOfExperts(moeConfig({activation: 'silu'})),
   argument: 'activation', expected: `one of 'gelu', 'relu', 'swiglu'`, actual: 'got "silu"'},
  {name: 'mixtureOfExperts: balance a string', call: () => mixtureOfExperts(moeConfig({balance: 'heavy'})),
   argument: 'balance', expected: 'an object', actual: 'got "heavy"'},
  {name: 'mixtureOfExperts: balance.auxLossScope unknown', call: () => mixtureOfExperts(moeConfig({
     balance: {auxLoss: 0.01, auxLossScope: 'local'}})),
   argument: 'balance.auxLossScope', expected: `one of 'micro', 'global'`, actual: 'got "local"'},
  {name: 'mixtureOfExperts: balance.routerZLoss NaN', call: () => mixtureOfExperts(moeConfig({
     balance: {routerZLoss: NaN}})),
   argument: 'balance.routerZLoss', expected: 'a finite number', actual: 'got NaN'},
  {name: 'mixtureOfExperts: balance.variance negative', call: () => mixtureOfExperts(moeConfig({
     balance: {variance: -1}})),
   argument: 'balance.variance', expected: '>= 0', actual: 'got -1'},
  {name: 'mixtureOfExperts: balance.orthogonality Infinity', call: () => mixtureOfExperts(moeConfig({
     balance: {orthogonality: Infinity}})),
   argument: 'balance.orthogonality', expected: 'a finite number', actual: 'got Infinity'},
  {name: 'mixtureOfExperts: balance.biasUpdateRate negative', call: () => mixtureOfExperts(moeConfig({
     balance: {biasUpdateRate: -0.01}})),
   argument: 'balance.biasUpdateRate', expected: '>= 0', actual: 'got -0.01'},
  {name: 'mixtureOfExperts: biasUpdateRate with expert choice', call: () => mixtureOfExperts(moeConfig({
     router: 'expertChoice', balance: {biasUpdateRate: 0.01}})),
   argument: 'balance.biasUpdateRate', expected: `must be 0 unless router is 'topk'`,
   actual: `got 0.01 with router 'expertChoice'`},
  {name: 'mixtureOfExperts: unknown field', call: () => mixtureOfExperts(moeConfig({expertCount: 4})),
   argument: 'config.expertCount', expected: 'one of the known options (numExperts, topK,',
   actual: 'an unknown option'},
  {name: 'mixtureOfExperts: unknown balance field', call: () => mixtureOfExperts(moeConfig({balance: {zLoss: 0.1}})),
   argument: 'balance.zLoss', expected: 'one of the known options (auxLoss, auxLossConvention,',
   actual: 'an unknown option'},
  {name: 'mixtureOfExperts: minCapacity negative', call: () => mixtureOfExperts(moeConfig({capacityFactor: 1,
                                                                                           minCapacity: -1})),
   argument: 'minCapacity', expected: 'an integer >= 0', actual: 'got -1'},
  {name: 'mixtureOfExperts: minCapacity fractional', call: () => mixtureOfExperts(moeConfig({capacityFactor: 1,
                                                                                             minCapacity: 2.5})),
   argument: 'minCapacity', expected: 'an integer', actual: 'got 2.5'},
  {name: 'mixtureOfExperts: minCapacity without a capacity', call: () => mixtureOfExperts(moeConfig({minCapacity: 4})),
   argument: 'minCapacity', expected: '0 when capacityFactor is 0', actual: 'got 4'},
  {name: 'mixtureOfExperts: unknown dropPolicy', call: () => mixtureOfExperts(moeConfig({capacityFactor: 1,
                                                                                         dropPolicy: 'random'})),
   argument: 'dropPolicy', expected: `one of 'position', 'slotMajor', 'score'`, actual: 'got "random"'},
  {name: 'mixtureOfExperts: renormalizeAfterDrop a string',
   call: () => mixtureOfExperts(moeConfig({renormalizeAfterDrop: 'yes'})),
   argument: 'renormalizeAfterDrop', expected: 'a boolean', actual: 'got "yes"'},
  {name: 'mixtureOfExperts: dropPolicy without a capacity',
   call: () => mixtureOfExperts(moeConfig({dropPolicy: 'score'})),
   argument: 'dropPolicy', expected: '"position" (the default) when capacityFactor is 0 (dropless routing drops nothing)',
   actual: 'got "score"'},
  {name: 'mixtureOfExperts: renormalizeAfterDrop without a capacity',
   call: () => mixtureOfExperts(moeConfig({renormalizeAfterDrop: true, capacityFactor: 0})),
   argument: 'renormalizeAfterDrop', expected: 'false (the default) when capacityFactor is 0', actual: 'got true'},
  {name: 'mixtureOfExperts: dropPolicy with expert choice',
   call: () => mixtureOfExperts(moeConfig({router: 'expertChoice', capacityFactor: 1, dropPolicy: 'slotMajor'})),
   argument: 'dropPolicy', expected: `"position" (the default) with router 'expertChoice'`, actual: 'got "slotMajor"'},
  {name: 'mixtureOfExperts: renormalizeAfterDrop with expert choice',
   call: () => mixtureOfExperts(moeConfig({router: 'expertChoice', renormalizeAfterDrop: true})),
   argument: 'renormalizeAfterDrop', expected: `false (the default) with router 'expertChoice'`, actual: 'got true'},
  {name: 'mixtureOfExperts: unknown balance.auxLossConvention',
   call: () => mixtureOfExperts(moeConfig({balance: {auxLoss: 0.01, auxLossConvention: 'experts'}})),
   argument: 'balance.auxLossConvention', expected: `one of 'pairs', 'tokens'`, actual: 'got "experts"'},
  {name: 'mixtureOfExperts: balance.centerBiasUpdate 1',
   call: () => mixtureOfExperts(moeConfig({balance: {biasUpdateRate: 0.01, centerBiasUpdate: 1}})),
   argument: 'balance.centerBiasUpdate', expected: 'a boolean', actual: 'got 1'},
  {name: 'mixtureOfExperts: numGroups not dividing numExperts',
   call: () => mixtureOfExperts(moeConfig({numExperts: 6, numGroups: 4, topKGroups: 1})),
   argument: 'numGroups', expected: 'a divisor of numExperts (6)', actual: 'got 4'},
  {name: 'mixtureOfExperts: topKGroups > numGroups',
   call: () => mixtureOfExperts(moeConfig({numExperts: 6, numGroups: 3, topKGroups: 4})),
   argument: 'topKGroups', expected: '<= numGroups (3)', actual: 'got 4'},
  {name: 'mixtureOfExperts: topK > the experts in the kept groups',
   call: () => mixtureOfExperts(moeConfig({numExperts: 8, topK: 3, numGroups: 4, topKGroups: 1})),
   argument: 'topK',
   expected: '<= the experts in the kept groups (topKGroups · numExperts / numGroups = 1 · 8 / 4 = 2)',
   actual: 'got 3'},
  {name: 'mixtureOfExperts: numGroups without topKGroups',
   call: () => mixtureOfExperts(moeConfig({numExperts: 6, numGroups: 3})),
   argument: 'topKGroups', expected: 'an integer in [1, numGroups = 3] when numGroups is set', actual: 'got undefined'},
  {name: 'mixtureOfExperts: numGroups with router sinkhorn',
   call: () => mixtureOfExperts(moeConfig({numExperts: 6, numGroups: 3, topKGroups: 1, router: 'sinkhorn'})),
   argument: 'numGroups', expected: `left out unless router is 'topk'`, actual: `got router 'sinkhorn'`},

  // ---- the layer at call time ----
  {name: 'MixtureOfExperts layer: int32 input', call: m => layer(m, MOE).apply(m.i32([0, 1, 2, 3, 4, 5, 6, 7], [2, 4])),
   argument: 'Input 0', expected: 'expected dtype=float32', actual: 'found dtype=int32'},
  {name: 'MixtureOfExperts layer: rank-4 input', call: m => layer(m, MOE).apply(m.f([1, 2, 3, 4])),
   argument: 'input', expected: 'rank 2 [batch, features] or rank 3 [batch, time, features]',
   actual: 'got shape [1,2,3,4]'},
  {name: 'MixtureOfExperts layer: another feature size after build', call: m => {
     const moe = layer(m, MOE);
     m.add(moe.apply(m.f([2, 4])) as tf.Tensor);
     return moe.apply(m.f([2, 5]));
   },
   argument: 'Input 0', expected: 'expected axis -1 of input shape to have value 4', actual: 'got shape 2,5'},

  // ---- moeCallback, moeLayers and the balancing losses ----
  {name: 'moeCallback: model null', call: () => moeCallback(null as unknown as LayersModel),
   argument: 'model', expected: 'a tf.LayersModel', actual: 'got null'},
  {name: 'moeCallback: onMetrics not a function',
   call: () => moeCallback(fakeModel, {onMetrics: 5 as unknown as () => void}),
   argument: 'options.onMetrics', expected: 'a function', actual: 'got 5'},
  {name: 'moeCallback: misspelt option', call: () => moeCallback(fakeModel, {onMetric: () => {}} as unknown as {}),
   argument: 'options.onMetric', expected: 'one of the known options (onMetrics)', actual: 'an unknown option'},
  {name: 'moeLayers: a layer instead of a model', call: m => moeLayers(layer(m, MOE) as unknown as LayersModel),
   argument: 'model', expected: 'a tf.LayersModel', actual: 'got an object without a layers array'},
  {name: 'loadBalancingLoss: counts [1] (would broadcast)', call: m => loadBalancingLoss(m.f([4, 3]) as T2,
                                                                                         m.f([1]) as T1),
   argument: 'counts', expected: 'of shape [3] (E from scores)', actual: 'got shape [1]'},
  {name: 'loadBalancingLoss: scores rank 1', call: m => loadBalancingLoss(m.f([3]) as T2, m.f([3]) as T1),
   argument: 'scores', expected: 'rank 2 [N, E]', actual: 'got rank 1 (shape [3])'},
  {name: 'routerZLoss: logits rank 1', call: m => routerZLoss(m.f([3]) as T2),
   argument: 'logits', expected: 'rank 2 [N, E]', actual: 'got rank 1 (shape [3])'},
  {name: 'orthogonalityLoss: slotOutputs rank 2', call: m => orthogonalityLoss(m.f([4, 2]) as T3),
   argument: 'slotOutputs', expected: 'rank 3 [N, k, H]', actual: 'got rank 2 (shape [4,2])'},
  {name: 'loadBalancingLoss: tokens convention without topK',
   call: m => loadBalancingLoss(m.f([4, 3]) as T2, m.f([3]) as T1, {convention: 'tokens'}),
   argument: 'options.topK', expected: 'an integer', actual: 'got undefined'},
  {name: 'loadBalancingLoss: unknown convention',
   call: m => loadBalancingLoss(m.f([4, 3]) as T2, m.f([3]) as T1, {convention: 'experts' as 'pairs'}),
   argument: 'options.convention', expected: `one of 'pairs', 'tokens'`, actual: 'got "experts"'},
  {name: 'updatedSelectionBias: counts [1] (would broadcast)',
   call: m => updatedSelectionBias(m.f([3]), m.f([1]) as T1, 0.01),
   argument: 'counts', expected: 'of shape [3] (E from bias)', actual: 'got shape [1]'},
  {name: 'updatedSelectionBias: counts an array', call: m => updatedSelectionBias(m.f([3]), [1, 2, 3] as unknown as T1, 0.01),
   argument: 'counts', expected: 'a tf.Tensor [E]', actual: 'got object'},
  {name: 'updatedSelectionBias: bias rank 2', call: m => updatedSelectionBias(m.f([1, 3]), m.f([3]) as T1, 0.01),
   argument: 'bias', expected: 'rank 1 [E]', actual: 'got rank 2 (shape [1,3])'},
  {name: 'updatedSelectionBias: rate NaN', call: m => updatedSelectionBias(m.f([3]), m.f([3]) as T1, NaN),
   argument: 'rate', expected: 'a finite number', actual: 'got NaN'},
  {name: 'updatedSelectionBias: rate negative', call: m => updatedSelectionBias(m.f([3]), m.f([3]) as T1, -0.01),
   argument: 'rate', expected: '>= 0', actual: 'got -0.01'},
  {name: 'updatedSelectionBias: center a string',
   call: m => updatedSelectionBias(m.f([3]), m.f([3]) as T1, 0.01, 'yes' as unknown as boolean),
   argument: 'center', expected: 'a boolean', actual: 'got "yes"'},
  {name: 'exactCeilCapacity: factor NaN', call: () => exactCeilCapacity(NaN, 8, 4),
   argument: 'factor', expected: 'a finite number', actual: 'got NaN'},
  {name: 'exactCeilCapacity: factor negative', call: () => exactCeilCapacity(-1.25, 8, 4),
   argument: 'factor', expected: '>= 0', actual: 'got -1.25'},
  {name: 'exactCeilCapacity: pairs fractional', call: () => exactCeilCapacity(1.25, 7.5, 4),
   argument: 'pairs', expected: 'an integer', actual: 'got 7.5'},
  {name: 'exactCeilCapacity: pairs negative', call: () => exactCeilCapacity(1.25, -8, 4),
   argument: 'pairs', expected: 'an integer >= 0', actual: 'got -8'},
  {name: 'exactCeilCapacity: numExperts 0', call: () => exactCeilCapacity(1.25, 8, 0),
   argument: 'numExperts', expected: 'an integer >= 1', actual: 'got 0'},
  {name: 'routingVarianceLoss: scores int32', call: m => routingVarianceLoss(m.i32([0, 1, 2, 3], [2, 2]) as T2),
   argument: 'scores', expected: 'of dtype float32', actual: 'got int32'},
];

export function describeMoeBadInputs(constraints: Constraints = ALL_ENVS) {
  describeBadInputs('@sluice/moe', MOE_BAD_INPUTS, constraints);
}

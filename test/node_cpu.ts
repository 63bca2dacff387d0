// Node jasmine entry: the cpu backend with sluice's CPU kernels, plus the
// composite on the same backend (the suite forces it in a second pass).
// tfjs-core's ESM entry registers no gradients or chained ops: do it here.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-cpu';
import '@sluice/backend-cpu';

import {setTestEnvs} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {describeMixtureOfExpertsConformance} from '@sluice/moe/testing';
import {describeRegularizersConformance} from '@sluice/regularizers/testing';
import {describeFuzzSuite} from '@sluice/core/testing';
import {describeTrainer} from '../packages/demo/src/trainer/trainer_suite';
import {describeBench} from '../packages/bench/src/bench_suite';
import {describeLinearCrossEntropyConformance} from '@sluice/core/testing';
import {describeExpertDispatchConformance, describeTopOneSuppressionConformance} from '@sluice/core/testing';
import {describeBadInputCatalogue} from './reliability/bad_input_catalogue';
import {describeNumericalExtremes} from './reliability/numerical_extremes';

setTestEnvs([{name: 'cpu', backendName: 'cpu', isDataSync: true}]);
describeLinearCrossEntropyConformance();
describeTopOneSuppressionConformance();
describeExpertDispatchConformance();
describeFuzzSuite();
describeMixtureOfExpertsConformance();
describeRegularizersConformance();
describeTrainer();
describeBench();
describeBadInputCatalogue();
describeNumericalExtremes();
import {describeLeakAndLimitTests} from './reliability/leak_and_limit'; describeLeakAndLimitTests();

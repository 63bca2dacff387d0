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
import {describeLinearCrossEntropyConformance} from '@sluice/core/testing';
import {describeExpertDispatchConformance, describeTopOneSuppressionConformance} from '@sluice/core/testing';
import {describeBadInputCatalogue} from './reliability/bad_input_catalogue';
import {describeSafetensors} from '@sluice/interop/testing/safetensors_test';
import {describeSafetensorsFiles} from '@sluice/interop/testing/node_files_test';
import {describeTransformersMapping} from '@sluice/moe/testing/transformers_mapping_test';
import {describeNumericalExtremes} from './reliability/numerical_extremes';

setTestEnvs([{name: 'cpu', backendName: 'cpu', isDataSync: true}]);
describeLinearCrossEntropyConformance();
describeTopOneSuppressionConformance();
describeExpertDispatchConformance();
describeFuzzSuite();
describeMixtureOfExpertsConformance();
describeRegularizersConformance();
describeTrainer();
describeBadInputCatalogue();
describeNumericalExtremes();
describeSafetensors();
describeSafetensorsFiles();
describeTransformersMapping();
import {describeLeakAndLimitTests} from './reliability/leak_and_limit'; describeLeakAndLimitTests();

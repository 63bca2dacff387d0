// Node jasmine entry: the cpu backend with sluice's CPU kernels, plus the
// composite on the same backend (the suite forces it in a second pass).
import '@tensorflow/tfjs-backend-cpu';
import '@sluice/backend-cpu';

import {setTestEnvs} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {describeLinearCrossEntropyConformance} from '@sluice/core/testing';

setTestEnvs([{name: 'cpu', backendName: 'cpu', isDataSync: true}]);
describeLinearCrossEntropyConformance();

// Node jasmine entry with nothing but @tensorflow/tfjs-core, its cpu backend
// and sluice: tfjs's register_all_gradients and chained ops are never
// imported here, so every gradient the MoE ops need must be sluice's own
// (registered kernel gradients or customGrad). Issue 14, item 2.
import '@tensorflow/tfjs-backend-cpu';
import '@sluice/backend-cpu';

import {setTestEnvs} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {describeSelfContainedGradients} from '@sluice/core/testing';

setTestEnvs([{name: 'cpu', backendName: 'cpu', isDataSync: true}]);
describeSelfContainedGradients();

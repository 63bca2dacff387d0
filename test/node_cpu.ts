// Node jasmine entry: the cpu backend with sluice's CPU kernels, plus the
// composite on the same backend (the suites force it in a second pass).
// tfjs-core's ESM entry registers no gradients or chained ops: do it here.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-cpu';
import '@sluice/backend-cpu';

import {setTestEnvs} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {describeBench} from '@sluice/bench/bench_suite';
import {describeTrainer} from '@sluice/demo/trainer/trainer_suite';
import {describeSafetensorsFiles} from '@sluice/interop/testing/node_files_test';

import {defineSuites} from './suites';

setTestEnvs([{name: 'cpu', backendName: 'cpu', isDataSync: true}]);
// These read and write files (node:fs) or run Node-only code: extras of this env, not of the shared list.
defineSuites('node-cpu', [
  {name: 'trainer', define: describeTrainer},
  {name: 'safetensors files and checkpoints', define: describeSafetensorsFiles},
  {name: 'bench (flags, shapes, naive peak estimate)', define: describeBench},
]);

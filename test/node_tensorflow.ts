// Node jasmine entry: tfjs-node's 'tensorflow' backend with sluice's
// 'tensorflow' kernels, plus the composite on the same backend (the suite
// forces it in a second pass). tfjs-node-gpu provides the same backend class,
// so these kernels and this entry cover it too.
//
// '@tensorflow/tfjs-node' stays external to the bundle (a native addon): it
// loads tfjs-core's CommonJS build while this bundle carries the ESM one. The
// two copies share everything that matters, because tfjs keeps it global:
// the engine (and with it env flags, backends, memory accounting), the kernel
// and gradient registries, and the Tensor class (`instanceof` is duck-typed
// through Symbol.hasInstance). describeNodeLinearCrossEntropy checks exactly that.
import * as tfnode from '@tensorflow/tfjs-node';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@sluice/backend-node';

import {setTestEnvs} from '@tensorflow/tfjs-core/dist/jasmine_util';
import {describeNodeLinearCrossEntropy} from '@sluice/backend-node/linear_cross_entropy_node_test';
import {describeMoeFileRoundTrip} from '@sluice/moe/testing/moe_file_io_test';
import {describeHeadFileRoundTrip} from '@sluice/regularizers/testing/head_file_io_test';

import {defineSuites} from './suites';

setTestEnvs([{name: 'tensorflow', backendName: 'tensorflow', isDataSync: true}]);
// Both need tfjs-node (the node backend's own checks, and its file:// handler).
defineSuites('node-tensorflow', [
  {name: 'tensorflow fused CE', define: describeNodeLinearCrossEntropy},
  {name: 'moe file:// round trip',
   define: () => describeMoeFileRoundTrip(
       tfnode.io.fileSystem as unknown as Parameters<typeof describeMoeFileRoundTrip>[0])},
  {name: 'linearCrossEntropyHead file:// round trip',
   define: () => describeHeadFileRoundTrip(
       tfnode.io.fileSystem as unknown as Parameters<typeof describeHeadFileRoundTrip>[0])},
]);

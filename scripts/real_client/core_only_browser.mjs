// Chromium: @tensorflow/tfjs-core + @tensorflow/tfjs-backend-webgl and sluice, nothing
// else registered. scripts/real_client.mjs builds it twice, with the marked
// import as @sluice/backend-webgl (its kernels) and as @sluice/core (composites).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import * as core from '@sluice/core';
import '@sluice/backend-webgl' /* MODE */;

import {runAllOps} from './core_only_ops.mjs';

tf.env().set('SLUICE_WARN_COMPOSITE', false);
await tf.setBackend('webgl');
await runAllOps(tf, core, console.log);

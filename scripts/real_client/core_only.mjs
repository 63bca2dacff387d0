// Node: @tensorflow/tfjs-core + @tensorflow/tfjs-backend-cpu and sluice, nothing else
// registered (no register_all_gradients, no chained ops). `kernels`: with
// @sluice/backend-cpu's kernels; `composite`: without (the ops' composites).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as core from '@sluice/core';

import {runAllOps} from './core_only_ops.mjs';

if (process.argv[2] === 'kernels') await import('@sluice/backend-cpu');
tf.env().set('SLUICE_WARN_COMPOSITE', false);  // the composite is what this run is for
await tf.setBackend('cpu');
await runAllOps(tf, core, console.log);

/**
 * Picks the training backend and says which and why in one line. Load order
 * matters: tfjs-node brings its own CPU backend, so @tensorflow/tfjs-backend-cpu
 * is imported only when tfjs-node does not load (a second copy would register
 * every cpu kernel twice). tfjs-node stays outside the bundle (a native addon)
 * and so loads its own copy of tfjs-core, which shares the engine and kernel
 * registry through the global namespace but sets the platform a second time;
 * production mode (tf.enableProdMode, tfjs's switch for its notices) silences
 * that notice and the cpu backend's "install the node backend" banner.
 */
import * as tf from '@tensorflow/tfjs-core';

import {UsageError} from './corpus';

export interface BackendChoice {
  name: 'tensorflow'|'cpu';
  why: string;
}

export async function selectBackend(wanted: 'auto'|'tensorflow'|'cpu'): Promise<BackendChoice> {
  tf.enableProdMode();
  let why = '--backend cpu';
  if (wanted !== 'cpu') {
    try {
      require('@tensorflow/tfjs-node');
      await import('@sluice/backend-node');  // sluice's fused kernels for 'tensorflow'
      if (await tf.setBackend('tensorflow')) {
        return {name: 'tensorflow', why: 'tfjs-node\'s native addon loaded (libtensorflow CPU kernels, all cores)'};
      }
      why = 'tfjs-node loaded but its backend did not initialise';
    } catch (e) {
      why = `tfjs-node does not load here: ${(e as Error).message.split('\n')[0]}`;
    }
    if (wanted === 'tensorflow') throw new UsageError(`--backend tensorflow: ${why}`);
  }
  await import('@tensorflow/tfjs-backend-cpu');
  await import('@sluice/backend-cpu');
  await tf.setBackend('cpu');
  return {name: 'cpu', why};
}

import * as tf from '@tensorflow/tfjs-core';
import os from 'node:os';

/** One line naming what ran the numbers: CPU model, cores, Node, tfjs backend. */
export function describeMachine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${cpu} (${os.cpus().length} cores), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ` +
      `tfjs ${tf.version_core}, backend '${tf.getBackend()}'`;
}

/**
 * Runs a test body with tfjs `env()` flags set, restoring every flag's value
 * afterwards, also when the body throws or rejects (backend tests force
 * their chunking and budget paths through flags).
 */
import * as tf from '@tensorflow/tfjs-core';

export async function withFlags<T>(flags: Record<string, number|string|boolean>, f: () => T | Promise<T>):
    Promise<T> {
  const saved = Object.keys(flags).map(k => [k, tf.env().get(k)] as const);
  try {
    for (const [k, value] of Object.entries(flags)) {
      tf.env().set(k, value);
    }
    return await f();
  } finally {
    saved.forEach(([k, value]) => tf.env().set(k, value));
  }
}

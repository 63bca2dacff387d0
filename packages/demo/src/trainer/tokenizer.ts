/**
 * GPT-2's byte-level BPE (50,257 tokens; ranks shipped by the npm package
 * gpt-tokenizer, nothing downloaded), batches and the unigram baseline: pure
 * functions shared by the Node trainer and the browser playground. Byte-level
 * BPE encodes any text: characters outside the 256 base bytes become their
 * UTF-8 bytes. `<|endoftext|>` in the text is plain text, not the special token.
 */
import {decode as gpt2Decode, encode as gpt2Encode, vocabularySize} from 'gpt-tokenizer/encoding/gpt2';
import tokenizerPackage from 'gpt-tokenizer/package.json';

export const TOKENIZER = {
  name: 'gpt2',
  /** Names the ranks: a token cache or checkpoint made with another tokenizer is stale. */
  id: `gpt-tokenizer@${(tokenizerPackage as {version: string}).version}/gpt2`,
  vocabSize: vocabularySize as number,
  endOfText: 50256,
};

const PLAIN = {disallowedSpecial: new Set<string>()};

export function encode(text: string): Int32Array {
  return Int32Array.from(gpt2Encode(text, PLAIN));
}

export function decode(ids: ArrayLike<number>): string {
  return gpt2Decode(Array.from(ids));
}

/** Entropy (nats) of the token stream's unigram distribution: the loss a model without context reaches. */
export function unigramEntropy(ids: Int32Array, vocabSize: number): number {
  const counts = new Float64Array(vocabSize);
  for (const id of ids) counts[id] += 1;
  let h = 0;
  for (const c of counts) {
    if (c > 0) {
      const p = c / ids.length;
      h -= p * Math.log(p);
    }
  }
  return h;
}

/**
 * Deterministic generator (core's seeded mulberry32) for batch positions: a
 * resumed run draws what the original would.
 */
export {seededRandom as rng} from '@sluice/core/testing/random';

/** A batch of `batch` windows of `context + 1` tokens starting at random positions. */
export function sampleBatch(ids: Int32Array, batch: number, context: number, rand: () => number):
    {inputs: Int32Array, targets: Int32Array} {
  const inputs = new Int32Array(batch * context), targets = new Int32Array(batch * context);
  for (let b = 0; b < batch; ++b) {
    const start = Math.floor(rand() * (ids.length - context - 1));
    inputs.set(ids.subarray(start, start + context), b * context);
    targets.set(ids.subarray(start + 1, start + context + 1), b * context);
  }
  return {inputs, targets};
}

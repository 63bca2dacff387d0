/**
 * Word-level tokenizer, vocabulary, batches and the unigram baseline: pure
 * functions shared by the Node trainer and the browser playground.
 */
/** Lower-cased words (with inner apostrophes), numbers, and single punctuation marks. */
export function tokenize(text: string): string[] {
  return text.toLowerCase().replace(/[’‘]/g, '\'').match(/[a-z]+(?:'[a-z]+)*|[0-9]+|[^\sa-z0-9]/g) ?? [];
}

export const UNK = '<unk>';

export class Vocabulary {
  readonly index = new Map<string, number>();
  constructor(readonly words: string[]) {
    words.forEach((w, i) => this.index.set(w, i));
  }

  /** The `size − 1` most frequent tokens (ties alphabetical) after `<unk>` at 0. */
  static build(tokens: string[], size: number): Vocabulary {
    const counts = new Map<string, number>();
    for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
    const ranked = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, size - 1);
    return new Vocabulary([UNK, ...ranked.map(([w]) => w)]);
  }

  get size() {
    return this.words.length;
  }

  encode(tokens: string[]): Int32Array {
    return Int32Array.from(tokens, t => this.index.get(t) ?? 0);
  }

  decode(ids: ArrayLike<number>): string {
    let out = '';
    for (const id of Array.from(ids)) {
      const w = this.words[id] ?? UNK;
      out += /^[a-z0-9<]/.test(w) && out.length > 0 ? ` ${w}` : w;
    }
    return out;
  }
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

/**
 * The composite keeps a few [N, chunk] temporaries alive per block; 2^21
 * elements (8 MiB in float32) each keeps the peak far below the N×V logits
 * while leaving blocks large enough that per-op overhead stays small.
 */
const TARGET_BLOCK_ELEMENTS = 1 << 21;

export function compositeVocabChunk(numTokens: number, vocabSize: number, hint: number): number {
  if (hint > 0) {
    return Math.min(hint, vocabSize);
  }
  const chunk = Math.floor(TARGET_BLOCK_ELEMENTS / Math.max(numTokens, 1));
  return Math.max(1, Math.min(vocabSize, Math.max(chunk, 128)));
}

/** [start, size] pairs covering [0, vocabSize). */
export function vocabRanges(vocabSize: number, chunk: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (let start = 0; start < vocabSize; start += chunk) {
    ranges.push([start, Math.min(chunk, vocabSize - start)]);
  }
  return ranges;
}

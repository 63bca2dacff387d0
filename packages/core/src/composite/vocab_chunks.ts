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

/** Text generation for the end of a run: temperature 0.8 over the 40 most likely next tokens. */
import {MoECausalLM} from '../model/causal_lm';
import {decode, encode, rng, TOKENIZER} from './tokenizer';

export function sampleText(model: MoECausalLM, prompt: string, count: number, seed: number): string {
  const ids = Array.from(encode(prompt));
  const rand = rng(seed);
  for (let i = 0; i < count; ++i) {
    const logits = model.nextLogits(ids);
    // Only GPT-2's tokens (a padded vocabulary's extra rows are never emitted).
    const top = Array.from(logits.subarray(0, TOKENIZER.vocabSize), (z, j) => [z / 0.8, j])
                    .sort((a, b) => b[0] - a[0]).slice(0, 40);
    const m = top[0][0];
    const weights = top.map(([z]) => Math.exp(z - m));
    let r = rand() * weights.reduce((a, b) => a + b, 0), pick = top[0][1];
    for (let j = 0; j < top.length; ++j) {
      r -= weights[j];
      if (r <= 0) {
        pick = top[j][1];
        break;
      }
    }
    ids.push(pick);
  }
  return decode(ids);
}

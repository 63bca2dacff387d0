/** Minimal `--name value` / `--flag` parser; unknown flags are an error, not ignored. */
export type ArgSpec = Record<string, {default: string|number|boolean, help: string}>;

export function parseArgs<T extends ArgSpec>(argv: string[], spec: T, usage: string):
    {[K in keyof T]: T[K]['default']} {
  const out: Record<string, string|number|boolean> = {};
  for (const [k, v] of Object.entries(spec)) {
    out[k] = v.default;
  }
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      console.log(usage);
      for (const [k, v] of Object.entries(spec)) {
        console.log(`  --${k.padEnd(14)} ${v.help} (default ${v.default})`);
      }
      process.exit(0);
    }
    const key = a.startsWith('--') ? a.slice(2) : '';
    if (!(key in spec)) {
      throw new Error(`unknown argument '${a}' (see --help)`);
    }
    const def = spec[key].default;
    if (typeof def === 'boolean') {
      out[key] = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) {
      throw new Error(`--${key} needs a value`);
    }
    if (typeof def === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n)) {
        throw new Error(`--${key} must be a number, got '${value}'`);
      }
      out[key] = n;
    } else {
      out[key] = value;
    }
  }
  return out as {[K in keyof T]: T[K]['default']};
}

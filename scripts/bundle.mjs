// esbuild bundling shared by the test runner, karma and the benchmarks:
// workspace packages resolve to their TypeScript sources, tfjs to its ESM
// `module` builds, so deep `dist/` imports and the public entry are one copy.
import * as esbuild from 'esbuild';
import {existsSync, readdirSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function workspaceAliases() {
  const alias = {};
  for (const dir of readdirSync(path.join(ROOT, 'packages'))) {
    const src = path.join(ROOT, 'packages', dir, 'src');
    // Private packages too (no index.ts): the demo's trainer suite is `@sluice/demo/trainer/trainer_suite`.
    if (!existsSync(src)) continue;
    const name = `@sluice/${dir}`;
    // A folder, so `@sluice/core/testing` resolves to src/testing/index.ts too.
    alias[name] = src;
  }
  return alias;
}

/** platform 'node' gives CJS for `node file`; 'browser' an IIFE for karma or a page. */
export async function bundle(entry, outfile, platform = 'node', external = []) {
  await esbuild.build({
    entryPoints: [path.resolve(ROOT, entry)],
    outfile: path.resolve(ROOT, outfile),
    bundle: true,
    platform,
    format: platform === 'node' ? 'cjs' : 'iife',
    target: 'es2020',
    mainFields: ['module', 'main'],
    alias: workspaceAliases(),
    external,
    sourcemap: 'inline',
    logLevel: 'warning',
    define: platform === 'browser' ? {'process.env.NODE_ENV': '"test"'} : {},
  });
}

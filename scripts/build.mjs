// `npm run build [-- --only core,backend-cpu] [-- --clean]`
//
// Builds every library package (packages/<dir> with src/index.ts) into
// packages/<dir>/dist/: tsc -b with project references (ESM dist/index.js +
// .d.ts + source maps, `module`/`types`), then rollup (rollup.config.mjs: CJS
// dist/sluice-<dir>.node.cjs for `main`, minified UMD dist/sluice-<dir>.min.js
// for `unpkg`), prints the sizes, and finishes with a smoke test of the built
// bundles (scripts/check_dist.mjs). Exits non-zero on the first failing step.
//
//   --only a,b   just these packages and their @sluice dependencies (e.g.
//                --only backend-cpu builds core too)
//   --clean      delete their dist/ first (a from-scratch build)
//
// On type errors it names the packages they are in, so the rest can be built
// with --only while those are being fixed.
import {spawnSync} from 'node:child_process';
import {existsSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';
import {gzipSync} from 'node:zlib';

import {libraries} from '../rollup.config.mjs';
import {ROOT} from './bundle.mjs';

const require = createRequire(import.meta.url);
const started = Date.now();
const all = libraries();

const args = process.argv.slice(2);
const option = name => {
  const at = args.findIndex(a => a === name || a.startsWith(`${name}=`));
  if (at < 0) return undefined;
  return args[at].includes('=') ? args[at].slice(name.length + 1) : (args[at + 1] ?? '');
};
const known = new Set(['--only', '--clean']);
const unknownFlag = args.find((a, i) => a.startsWith('--') && !known.has(a.split('=')[0]) ||
                                        !a.startsWith('--') && args[i - 1] !== '--only');
if (unknownFlag) {
  console.error(`build: unknown argument '${unknownFlag}'; usage: node scripts/build.mjs [--only dir,...] [--clean]`);
  process.exit(2);
}
let packages = all;
const onlyValue = option('--only');
if (onlyValue !== undefined) {
  const only = onlyValue.split(',').map(s => s.trim().replace(/^packages\//, '').replace(/^@sluice\//, ''))
                   .filter(Boolean);
  const unknown = only.filter(d => !all.includes(d));
  if (unknown.length > 0 || only.length === 0) {
    console.error(`build: --only takes a comma-separated list of ${all.join(', ')}; got '${onlyValue}'`);
    process.exit(2);
  }
  // With their @sluice dependencies: tsc -b builds those anyway, and the
  // smoke test require()s them through their own CJS bundles.
  const deps = dir => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'packages', dir, 'package.json'), 'utf8'));
    return Object.keys({...pkg.dependencies, ...pkg.peerDependencies})
        .filter(n => n.startsWith('@sluice/')).map(n => n.slice('@sluice/'.length)).filter(d => all.includes(d));
  };
  const wanted = new Set();
  const add = d => wanted.has(d) || (wanted.add(d), deps(d).forEach(add));
  only.forEach(add);
  packages = all.filter(d => wanted.has(d));
  const added = packages.filter(d => !only.includes(d));
  if (added.length > 0) console.log(`build: --only ${only.join(',')} (+ ${added.join(', ')}, a dependency)`);
}
const noTsconfig = packages.filter(d => !existsSync(path.join(ROOT, 'packages', d, 'tsconfig.json')));
if (noTsconfig.length > 0) {
  console.error(`build: ${noTsconfig.map(d => `packages/${d}`).join(', ')} has src/index.ts but no tsconfig.json ` +
                `(copy packages/backend-cpu/tsconfig.json and add it to the root tsconfig.json's references)`);
  process.exit(1);
}

const seconds = t0 => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

function run(what, command, commandArgs, {env = {}, capture = false} = {}) {
  const t0 = Date.now();
  const r = spawnSync(command, commandArgs, {
    cwd: ROOT, env: {...process.env, ...env}, encoding: 'utf8', maxBuffer: 64 << 20,
    stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit',
  });
  if (capture) process.stdout.write(r.stdout + r.stderr);
  if (r.status !== 0) {
    console.error(`build: ${what} failed (${r.status != null ? `exit ${r.status}` : r.signal}) after ${seconds(t0)}`);
    return {ok: false, output: capture ? r.stdout + r.stderr : ''};
  }
  console.log(`build: ${what} done in ${seconds(t0)}`);
  return {ok: true};
}

const tsc = [require.resolve('typescript/bin/tsc'), '-b', ...packages.map(d => `packages/${d}`)];
if (option('--clean') !== undefined) {
  for (const dir of packages) rmSync(path.join(ROOT, 'packages', dir, 'dist'), {recursive: true, force: true});
  console.log(`build: --clean: removed packages/{${packages.join(',')}}/dist`);
}
const typecheck = run(`tsc -b ${packages.join(' ')}`, process.execPath, [...tsc, '--pretty', 'false'], {capture: true});
if (!typecheck.ok) {
  const counts = {};
  for (const m of typecheck.output.matchAll(/^packages\/([^/]+)\/\S+\(\d+,\d+\): error TS\d+/gm)) {
    counts[m[1]] = (counts[m[1]] ?? 0) + 1;
  }
  const failed = Object.keys(counts);
  if (failed.length > 0) {
    console.error(`build: type errors in ${failed.map(d => `${d} (${counts[d]})`).join(', ')}`);
    const rest = packages.filter(d => !failed.includes(d));
    if (rest.length > 0) console.error(`build: the others can be built with --only ${rest.join(',')}`);
  }
  process.exit(1);
}
// The demo and the bench are private apps without a dist, and the test entries (test/) are only
// bundled by esbuild: their sources (and the package sources and suites they import, *_test.ts
// included) are type-checked here, strict, on a full build.
if (onlyValue === undefined &&
    !run('tsc -p tsconfig.apps.json (demo, playground, bench, test entries)', process.execPath,
         [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.apps.json'), '--pretty', 'false']).ok) {
  process.exit(1);
}
if (!run('rollup (CJS + minified UMD)', process.execPath,
         [require.resolve('rollup/dist/bin/rollup'), '-c', path.join(ROOT, 'rollup.config.mjs'), '--silent'],
         {env: {SLUICE_PACKAGES: packages.join(',')}}).ok) {
  process.exit(1);
}

const kib = bytes => `${(bytes / 1024).toFixed(1)} KiB`;
for (const dir of packages) {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'packages', dir, 'package.json'), 'utf8'));
  const dist = path.join(ROOT, 'packages', dir, 'dist');
  const esm = readdirSync(dist, {recursive: true})
                  .filter(f => f.endsWith('.js') && !path.basename(f).startsWith('sluice-'))
                  .map(f => statSync(path.join(dist, f)).size);
  const sizes = [`ESM ${esm.length} files ${kib(esm.reduce((a, b) => a + b, 0))}`];
  sizes.push(...[pkg.main, pkg.unpkg].filter(Boolean).map(f => {
    const file = path.join(ROOT, 'packages', dir, f);
    if (!existsSync(file)) return `${f} MISSING`;
    const gz = f === pkg.unpkg ? ` (${kib(gzipSync(readFileSync(file)).length)} gzip)` : '';
    return `${path.basename(f)} ${kib(statSync(file).size)}${gz}`;
  }));
  console.log(`  ${pkg.name.padEnd(24)} ${sizes.join(', ')}`);
}
if (!run('dist check (scripts/check_dist.mjs)', process.execPath,
         [path.join(ROOT, 'scripts', 'check_dist.mjs'), ...packages]).ok) {
  process.exit(1);
}
console.log(`build: ${packages.length} package(s) built in ${seconds(started)}`);

// `npm run build [-- --only core,backend-cpu]`: tsc -b (ESM + .d.ts) for the
// library packages, then rollup (CJS for Node, minified UMD), then a smoke
// test of every CJS bundle (scripts/check_dist.mjs). Non-zero exit on error.
import {spawnSync} from 'node:child_process';
import {existsSync, statSync} from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';

import {ROOT} from './bundle.mjs';

const require = createRequire(import.meta.url);
const LIBRARIES = ['core', 'backend-cpu', 'backend-webgl', 'backend-webgpu', 'backend-node', 'regularizers', 'moe'];

const args = process.argv.slice(2);
const onlyAt = args.findIndex(a => a === '--only' || a.startsWith('--only='));
let only = LIBRARIES;
if (onlyAt >= 0) {
  const value = args[onlyAt].includes('=') ? args[onlyAt].split('=')[1] : args[onlyAt + 1];
  only = (value ?? '').split(',').filter(Boolean);
  const unknown = only.filter(d => !LIBRARIES.includes(d));
  if (unknown.length > 0 || only.length === 0) {
    console.error(`build: --only must list some of ${LIBRARIES.join(', ')}, got '${value ?? ''}'`);
    process.exit(2);
  }
}
const packages = only.filter(dir => existsSync(path.join(ROOT, 'packages', dir, 'tsconfig.json')));
const started = Date.now();

function run(what, command, commandArgs, env = {}) {
  const t0 = Date.now();
  const r = spawnSync(command, commandArgs, {cwd: ROOT, stdio: 'inherit', env: {...process.env, ...env}});
  if (r.status !== 0) {
    console.error(`build: ${what} failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
  console.log(`build: ${what} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

run(`tsc -b (${packages.join(', ')})`, process.execPath,
    [require.resolve('typescript/bin/tsc'), '-b', ...packages.map(d => `packages/${d}`)]);
run('rollup (CJS + minified UMD)', process.execPath, [require.resolve('rollup/dist/bin/rollup'), '-c', '--silent'],
    {SLUICE_PACKAGES: packages.join(',')});
for (const dir of packages) {
  const pkg = JSON.parse((await import('node:fs')).readFileSync(path.join(ROOT, 'packages', dir, 'package.json'), 'utf8'));
  const sizes = [pkg.module, pkg.main, pkg.unpkg].filter(Boolean).map(f => {
    const file = path.join(ROOT, 'packages', dir, f);
    return `${f} ${existsSync(file) ? `${(statSync(file).size / 1024).toFixed(1)} KiB` : 'MISSING'}`;
  });
  console.log(`  ${pkg.name.padEnd(24)} ${sizes.join(', ')}`);
}
run('dist smoke test', process.execPath, [path.join(ROOT, 'scripts', 'check_dist.mjs'), ...packages]);
console.log(`build: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);

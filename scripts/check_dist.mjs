// Smoke test of the built packages: `node scripts/check_dist.mjs [dir ...]`
// (default: every library package with a dist/; `npm run build` runs it last).
//
// For each packages/<dir>:
//   - package.json: main/module/types/unpkg/jsdelivr/files/peerDependencies, and
//     the files they name exist;
//   - no tfjs inside: a bundle's source map may list only the deep-imported
//     webgl/webgpu internals (see rollup.config.mjs), never tfjs-core, and no
//     bundle registers a backend;
//   - the CJS bundle (`main`) loads with require(), next to tfjs-core's own CJS
//     build, tfjs-backend-cpu and the package's other peers, exports what it
//     should, and backends register their KERNEL_CONFIGS for the right backend;
//   - the UMD bundle (`unpkg`) run as a <script> would (no module system, a
//     global `tf` holding the peers) defines `sluice.<camelCaseDir>` with the
//     same exports, and registers the same kernels;
//   - linearCrossEntropy end to end through the CJS and the UMD bundles on
//     'cpu' (and on 'tensorflow' through backend-node when tfjs-node loads);
//   - `@sluice/core/testing` resolves to dist/testing for TypeScript and for a
//     bundler (esbuild without the source aliases of scripts/bundle.mjs);
//   - sub-entries with a CommonJS bundle (`@sluice/interop/node`) load with
//     require() and export what they should; a safetensors round trip runs
//     through the CJS, the UMD and the Node sub-entry bundles; the interop
//     main entry bundles for the browser without any node: builtin.
import {existsSync, readFileSync, realpathSync} from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';

import {camel, isInlinedDeepImport, libraries, subEntries} from '../rollup.config.mjs';
import {ROOT} from './bundle.mjs';

const require = createRequire(path.join(ROOT, 'package.json'));
const TFJS_VERSION = '4.22.0';
// Exports each package must have (on top of "at least one").
const EXPECT = {
  'core': ['linearCrossEntropy', 'topOneSuppression', 'routeTopK', 'expertDispatch', 'groupedMatMul', 'expertCombine',
           'SluiceLinearCrossEntropy', 'SluiceLinearCrossEntropyGrad', 'SluiceTopOneSuppression', 'SLUICE_FORCE_COMPOSITE'],
  'regularizers': ['maxSupCrossEntropy', 'sparseCategoricalCrossEntropy', 'logitPenalty', 'zLoss', 'linearSchedule'],
  'moe': ['mixtureOfExperts'],
  'interop': ['readSafetensors', 'writeSafetensors', 'toTensors', 'readSafetensorsBlob', 'writeSafetensorsBlob'],
  'interop/node': ['readSafetensorsFile', 'writeSafetensorsFile', 'readCheckpoint', 'writeCheckpoint'],
};
// Backend packages: the tfjs backend name their kernels are for, and the tfjs package they extend.
const BACKENDS = {
  'backend-cpu': ['cpu', '@tensorflow/tfjs-backend-cpu'],
  'backend-webgl': ['webgl', '@tensorflow/tfjs-backend-webgl'],
  'backend-webgpu': ['webgpu', '@tensorflow/tfjs-backend-webgpu'],
  'backend-node': ['tensorflow', '@tensorflow/tfjs-node'],
};
// Packages with no browser build (a native addon peer): no `unpkg` UMD bundle.
const NODE_ONLY = new Set(['backend-node']);

const all = libraries();
const dirs = process.argv.length > 2 ? process.argv.slice(2) :
                                       all.filter(d => existsSync(path.join(ROOT, 'packages', d, 'dist', 'index.js')));
// core first: the others' UMD bundles read the global sluice.core.
dirs.sort((a, b) => (b === 'core') - (a === 'core') || a.localeCompare(b));

let failed = 0;
const fail = (name, message) => {
  ++failed;
  console.error(`  ${name}: FAILED: ${message}`);
};
const ok = (name, message) => console.log(`  ${name}: ${message}`);
const tf = require('@tensorflow/tfjs-core');
// No "install the node backend" banner from tfjs-backend-cpu (backend_util.warn).
tf.env().set('IS_TEST', true);
const peers = {'@tensorflow/tfjs-core': tf, '@tensorflow/tfjs-backend-cpu': require('@tensorflow/tfjs-backend-cpu')};
const pkgs = {};
const cjs = {};
const skipped = {};

function checkPackageJson(dir, pkg) {
  const want = ['main', 'module', 'types', ...(NODE_ONLY.has(dir) ? [] : ['unpkg', 'jsdelivr'])];
  const problems = want.filter(f => typeof pkg[f] !== 'string').map(f => `no "${f}"`);
  for (const f of ['main', 'module', 'types', 'unpkg', 'jsdelivr']) {
    if (typeof pkg[f] === 'string' && !existsSync(path.join(ROOT, 'packages', dir, pkg[f]))) {
      problems.push(`"${f}": ${pkg[f]} does not exist`);
    }
  }
  if (!Array.isArray(pkg.files) || !pkg.files.includes('dist')) problems.push('"files" does not include dist');
  const peer = pkg.peerDependencies ?? {};
  if (peer['@tensorflow/tfjs-core'] !== TFJS_VERSION) problems.push(`no peer @tensorflow/tfjs-core ${TFJS_VERSION}`);
  if (BACKENDS[dir] && peer[BACKENDS[dir][1]] == null) problems.push(`no peer ${BACKENDS[dir][1]}`);
  for (const name of Object.keys(pkg.dependencies ?? {})) {
    if (name.startsWith('@tensorflow/')) problems.push(`${name} is a dependency, not a peer`);
  }
  return problems;
}

/** tfjs modules a bundle carries, from its source map; throws if it may not carry them. */
function inlinedTfjs(file) {
  const code = readFileSync(file, 'utf8');
  if (/\bregisterBackend\(/.test(code)) throw new Error(`${path.basename(file)} registers a backend`);
  const map = JSON.parse(readFileSync(`${file}.map`, 'utf8'));
  const inlined = [];
  let bytes = 0;
  map.sources.forEach((source, i) => {
    const at = source.lastIndexOf('node_modules/');
    if (at < 0) return;
    const id = source.slice(at + 'node_modules/'.length).replace(/\.js$/, '');
    if (!isInlinedDeepImport(id) || id.startsWith('@tensorflow/tfjs-core/')) {
      throw new Error(`${path.basename(file)} bundles ${id}`);
    }
    inlined.push(id);
    bytes += map.sourcesContent?.[i]?.length ?? 0;
  });
  if (inlined.length === 0) return '';
  const owners = [...new Set(inlined.map(id => id.split('/').slice(0, 2).join('/')))];
  return `; inlines ${inlined.length} internal module(s) of ${owners.join(', ')} (${(bytes / 1024).toFixed(0)} KiB ` +
         `of source) that no public tfjs entry exports`;
}

function checkExports(dir, mod) {
  const names = Object.keys(mod).filter(k => k !== '__esModule');
  const want = [...(EXPECT[dir] ?? []), ...(BACKENDS[dir] ? ['KERNEL_CONFIGS', 'registerKernels'] : [])];
  const missing = want.filter(name => mod[name] == null);
  if (names.length === 0) throw new Error('no exports');
  if (missing.length > 0) throw new Error(`missing exports: ${missing.join(', ')}`);
  if (EXPECT[dir]?.includes('linearCrossEntropy') && typeof mod.linearCrossEntropy !== 'function') {
    throw new Error('linearCrossEntropy is not a function');
  }
  if (BACKENDS[dir]) {
    const [backendName] = BACKENDS[dir];
    const configs = mod.KERNEL_CONFIGS;
    if (!Array.isArray(configs) || configs.length === 0) throw new Error('KERNEL_CONFIGS is empty');
    const wrong = configs.filter(c => c.backendName !== backendName || typeof c.kernelFunc !== 'function');
    if (wrong.length > 0) throw new Error(`KERNEL_CONFIGS not for '${backendName}': ${wrong.map(c => c.kernelName)}`);
    const unregistered = configs.filter(c => tf.getKernel(c.kernelName, backendName)?.kernelFunc !== c.kernelFunc);
    if (unregistered.length > 0) {
      throw new Error(`loading it did not register ${unregistered.map(c => c.kernelName).join(', ')}`);
    }
    return `${names.length} exports, ${configs.length} '${backendName}' kernels registered`;
  }
  return `${names.length} exports`;
}

function loadPeers(pkg) {
  for (const name of Object.keys(pkg.peerDependencies ?? {})) {
    if (peers[name] || !name.startsWith('@tensorflow/')) continue;
    const optional = pkg.peerDependenciesMeta?.[name]?.optional;
    try {
      peers[name] = require(name);
    } catch (e) {
      if (!optional) throw new Error(`cannot load peer ${name}: ${e.message.split('\n')[0]}`);
    }
  }
}

// 1. package.json, tfjs-free bundles, CommonJS.
for (const dir of dirs) {
  const pkgPath = path.join(ROOT, 'packages', dir, 'package.json');
  if (!all.includes(dir) || !existsSync(pkgPath)) {
    fail(dir, `not a library package (packages/${dir}/src/index.ts)`);
    continue;
  }
  const pkg = pkgs[dir] = JSON.parse(readFileSync(pkgPath, 'utf8'));
  const problems = checkPackageJson(dir, pkg);
  if (problems.length > 0) {
    fail(pkg.name, `package.json: ${problems.join('; ')}`);
    continue;
  }
  let inlined;
  try {
    inlined = [pkg.main, pkg.unpkg].filter(Boolean).map(f => inlinedTfjs(path.join(ROOT, 'packages', dir, f)))[0];
  } catch (e) {
    fail(pkg.name, e.message);
    continue;
  }
  try {
    loadPeers(pkg);
  } catch (e) {
    if (dir === 'backend-node') {
      // tfjs-node's native addon is an install-time download; without it there is nothing to load.
      skipped[dir] = e.message;
      ok(pkg.name, `CJS not loaded: ${e.message}`);
      continue;
    }
    fail(pkg.name, e.message);
    continue;
  }
  try {
    const mod = cjs[dir] = require(path.join(ROOT, 'packages', dir, pkg.main));
    ok(pkg.name, `${path.basename(pkg.main)}: ${checkExports(dir, mod)}${inlined}`);
  } catch (e) {
    fail(pkg.name, `${path.basename(pkg.main)}: ${e.message.split('\n')[0]}`);
  }
}

async function lceOnce(core, backend, how) {
  await tf.setBackend(backend);
  const value = tf.tidy(() => core.linearCrossEntropy(tf.ones([2, 3]), tf.ones([4, 3]), tf.tensor1d([0, 3], 'int32'))
                                  .dataSync()[0]);
  // Equal logits: the loss is ln V.
  if (!(Math.abs(value - Math.log(4)) < 1e-5)) {
    fail(how, `linearCrossEntropy gave ${value}, expected ln 4 = ${Math.log(4).toFixed(6)}`);
  } else {
    ok(how, `linearCrossEntropy on '${backend}' = ${value.toFixed(6)} = ln 4`);
  }
}

if (!failed && cjs['core']) {
  if (cjs['backend-cpu']) await lceOnce(cjs['core'], 'cpu', 'CJS core + backend-cpu');
  if (cjs['backend-node']) await lceOnce(cjs['core'], 'tensorflow', 'CJS core + backend-node');
}

// 2. UMD, as a <script>: `this`/globalThis is a window whose `tf` holds every loaded peer.
if (!failed) {
  const window = globalThis.__sluiceUmdWindow = {tf: Object.assign({}, ...Object.values(peers)), sluice: {}};
  if (!dirs.includes('core') && cjs['core'] == null && existsSync(path.join(ROOT, 'packages/core/dist/index.js'))) {
    window.sluice.core = require('@sluice/core');
  }
  for (const dir of dirs) {
    const pkg = pkgs[dir];
    if (!pkg?.unpkg || skipped[dir]) continue;
    const name = `${pkg.name} ${path.basename(pkg.unpkg)}`;
    try {
      // Re-registered by the UMD bundle: drop the CJS bundle's kernels first.
      for (const c of cjs[dir]?.KERNEL_CONFIGS ?? []) tf.unregisterKernel(c.kernelName, c.backendName);
      const code = readFileSync(path.join(ROOT, 'packages', dir, pkg.unpkg), 'utf8');
      new Function('globalThis', 'self', 'window', 'exports', 'module', 'define', 'require', code)
          .call(window, window, window, window);
      const mod = window.sluice[camel(dir)];
      if (mod == null) throw new Error(`defines no global sluice.${camel(dir)}`);
      const result = checkExports(dir, mod);
      const differ = [...new Set([...Object.keys(mod), ...Object.keys(cjs[dir] ?? mod)])]
                         .filter(k => k !== '__esModule' && (k in mod) !== (k in (cjs[dir] ?? mod)));
      if (differ.length > 0) throw new Error(`exports differ from the CJS bundle's: ${differ.join(', ')}`);
      ok(name, `global sluice.${camel(dir)}: ${result}`);
    } catch (e) {
      fail(name, e.message.split('\n')[0]);
    }
  }
  if (!failed && window.sluice.core && window.sluice.backendCpu) {
    await lceOnce(window.sluice.core, 'cpu', 'UMD core + backend-cpu');
  }
}

// 3. @sluice/core/testing after a build: TypeScript and a bundler, without scripts/bundle.mjs's aliases.
if (dirs.includes('core') && pkgs['core']) {
  const want = path.join(ROOT, 'packages/core/dist/testing/index');
  const ts = require('typescript');
  const from = path.join(ROOT, 'packages/demo/src/check.ts');
  for (const moduleResolution of [ts.ModuleResolutionKind.Node10, ts.ModuleResolutionKind.Bundler]) {
    const options = {moduleResolution, module: ts.ModuleKind.ESNext};
    const r = ts.resolveModuleName('@sluice/core/testing', from, options, ts.sys).resolvedModule;
    const how = `@sluice/core/testing (tsc, ${ts.ModuleResolutionKind[moduleResolution]})`;
    if (r?.resolvedFileName && realpathSync(r.resolvedFileName) === `${want}.d.ts`) ok(how, 'dist/testing/index.d.ts');
    else fail(how, `resolved to ${r?.resolvedFileName}`);
  }
  const esbuild = require('esbuild');
  const how = '@sluice/core/testing (esbuild)';
  try {
    const out = await esbuild.build({
      stdin: {contents: `export * from '@sluice/core/testing';`, resolveDir: path.join(ROOT, 'packages/demo'),
              sourcefile: 'check_testing.js'},
      bundle: true, write: false, metafile: true, format: 'esm', platform: 'browser', logLevel: 'silent',
      external: ['@tensorflow/*'],
    });
    // Paths relative to the working directory; the stdin entry is no file.
    const inputs = Object.keys(out.metafile.inputs).map(f => path.resolve(f)).filter(f => existsSync(f))
                       .map(f => realpathSync(f));
    if (inputs.includes(`${want}.js`)) ok(how, 'dist/testing/index.js');
    else fail(how, `did not bundle dist/testing/index.js (${inputs.slice(0, 3).join(', ')})`);
  } catch (e) {
    fail(how, e.message.split('\n')[0]);
  }
}

// 4. Sub-entries (CommonJS bundles of packages/<dir>/<sub>/package.json), and interop end to end.
for (const dir of dirs) {
  if (!pkgs[dir] || skipped[dir]) continue;
  for (const sub of subEntries(dir)) {
    const name = `${pkgs[dir].name}/${sub.dir}`;
    try {
      const mod = cjs[`${dir}/${sub.dir}`] = require(path.join(ROOT, 'packages', dir, sub.dir, sub.main));
      ok(name, `${path.basename(sub.main)}: ${checkExports(`${dir}/${sub.dir}`, mod)}`);
    } catch (e) {
      fail(name, `${sub.main}: ${e.message.split('\n')[0]}`);
    }
  }
}

async function interopRoundTrip(interop, how) {
  const bytes = await interop.writeSafetensors({w: tf.tensor2d([[1, -2.5, 3]]), i: {dtype: 'int32', shape: [2],
                                                values: new Int32Array([7, -9])}}, {format: 'pt'});
  const back = interop.readSafetensors(bytes);
  const same = back.metadata.format === 'pt' && Array.from(back.tensors.w.values).join() === '1,-2.5,3' &&
               Array.from(back.tensors.i.values).join() === '7,-9';
  if (same) ok(how, `safetensors round trip of ${bytes.byteLength} bytes`);
  else fail(how, `safetensors round trip gave ${JSON.stringify(back)}`);
}

if (!failed && cjs['interop']) {
  await interopRoundTrip(cjs['interop'], 'CJS interop');
  const umd = globalThis.__sluiceUmdWindow?.sluice?.interop;
  if (umd) await interopRoundTrip(umd, 'UMD interop');
  const node = cjs['interop/node'];
  if (node) {
    const {mkdtempSync, rmSync} = await import('node:fs');
    const {tmpdir} = await import('node:os');
    const dir = mkdtempSync(path.join(tmpdir(), 'sluice-check-dist-'));
    try {
      await node.writeCheckpoint(dir, {a: tf.ones([64]), b: tf.zeros([64])}, {maxShardBytes: 300});
      const read = await node.readCheckpoint(dir);
      const good = read.files.length === 2 && read.tensors.a.values[63] === 1 && read.tensors.b.values[0] === 0;
      if (good) ok('CJS interop/node', 'sharded checkpoint written and read back (2 shards + index)');
      else fail('CJS interop/node', `sharded checkpoint read back as ${JSON.stringify(read.files)}`);
    } catch (e) {
      fail('CJS interop/node', e.message.split('\n')[0]);
    } finally {
      rmSync(dir, {recursive: true, force: true});
    }
  }
  // The main entry in a browser bundle: esbuild for the browser fails on any node: builtin it reaches.
  const esbuild = require('esbuild');
  try {
    await esbuild.build({
      stdin: {contents: `export * from '@sluice/interop';`, resolveDir: path.join(ROOT, 'packages/demo'),
              sourcefile: 'check_interop_browser.js'},
      bundle: true, write: false, format: 'esm', platform: 'browser', logLevel: 'silent',
      external: ['@tensorflow/*', '@sluice/core'],
    });
    ok('@sluice/interop (esbuild, browser)', 'bundles without node: builtins');
  } catch (e) {
    fail('@sluice/interop (esbuild, browser)', e.message.split('\n')[0]);
  }
}

console.log(failed ? `dist check: ${failed} failed` : `dist check: ${dirs.length} package(s) ok`);
process.exit(failed ? 1 : 0);

// The real-client test (issue 14, item 6), `npm test`'s part `real-client`:
// sluice as a user gets it from npm, not as the monorepo sees it.
//
//   1. `npm pack` every published package; each tarball holds dist, types,
//      README, LICENSE and package.json, and no sources, tests, testing
//      suites (beyond @sluice/core/testing) or .tsbuildinfo;
//   2. `npm install --prefer-offline` the tarballs with tfjs 4.22 into a
//      fresh project under .tmp/ (the npm cache holds tfjs);
//   3. every ```js and ```ts block of the root and every package README runs
//      there (README block convention, in the root README's "Develop" notes):
//        ```js   Node ESM (.mjs), Node CJS (the same block with its imports
//                turned into require() and its body in an async function),
//                and Chromium from an esbuild bundle (playwright-core);
//                a block that uses require() and no import runs as CJS only
//                (in Node and, bundled, in Chromium);
//        ```ts   type-checked with `tsc --strict --noEmit` and run as ESM;
//        `<!-- test: node -->`, `<!-- test: browser -->` on the line before a
//        block restrict where it runs; `<!-- test: tfjs-node -->` runs it in
//        Node CJS with the monorepo's provisioned tfjs-node (a fresh offline
//        install cannot download its addon); `<!-- test: skip (why) -->`
//        skips it, printing why. Other languages (sh, html) are not run.
//   4. `tsc --strict --noEmit` of scripts/real_client/program.ts (every op,
//      the head layer and the MoE layer as the READMEs show them; the MoE ops
//      and top-1 suppression in program_moe_ops.ts), resolved through the
//      tarballs' exports maps (module nodenext), one spec per file;
//   5. self-contained gradients (issue 14, item 2): scripts/real_client/
//      core_only.mjs runs forward and backward of every op with
//      @tensorflow/tfjs-core plus one backend and nothing else registered
//      (no register_all_gradients, no chained ops), in Node on cpu and in
//      Chromium on webgl, with and without the sluice backend package.
// The project lives in the OS temp folder, outside the repository, so that
// nothing resolves to the monorepo's node_modules (except, on purpose,
// tfjs-node for `tfjs-node` blocks).
//
// Prints `SLUICE_COUNTS {...}` like every part; each checked thing is one spec.
//   node scripts/real_client.mjs [--keep] [--grep text] [--reuse <folder a --keep run printed>]
// (--reuse skips pack and install, for working on the checks after them).
import * as esbuild from 'esbuild';
import {spawnSync} from 'node:child_process';
import {cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';

import {libraries} from '../rollup.config.mjs';
import {ROOT} from './bundle.mjs';
import {tfjsNodeEnv} from './tfjs_node_env.mjs';

const TFJS = '4.22.0';
const args = process.argv.slice(2);
const keep = args.includes('--keep') || args.includes('--reuse');
const grep = args.includes('--grep') ? args[args.indexOf('--grep') + 1] : '';
const reuse = args.includes('--reuse') ? args[args.indexOf('--reuse') + 1] : '';
const counts = {passed: 0, failed: 0, skipped: 0};
const started = Date.now();
const seconds = () => ((Date.now() - started) / 1000).toFixed(0);

function spec(name, ok, detail = '') {
  if (grep && !name.includes(grep)) return;
  if (ok) {
    counts.passed++;
    console.log(`  ✓ ${name}`);
  } else {
    counts.failed++;
    console.log(`\n✗ [real-client] ${name}\n${String(detail).split('\n').slice(0, 25).map(l => `    ${l}`).join('\n')}`);
  }
}

function skip(name, why) {
  if (grep && !name.includes(grep)) return;
  counts.skipped++;
  console.log(`\n- [real-client] skipped: ${name}: ${why}`);
}

function run(command, argv, options = {}) {
  const r = spawnSync(command, argv, {encoding: 'utf8', timeout: options.timeout ?? 180_000, maxBuffer: 64 << 20,
                                      ...options});
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  return {ok: r.status === 0, output: r.error ? `${r.error.message}\n${output}` : output, status: r.status};
}

/** The last lines of a child's output: what a failure report shows. */
const tail = (output, n = 20) => output.trim().split('\n').slice(-n).join('\n');

// ---- 1. pack ---------------------------------------------------------------------------------
const published = libraries().filter(dir => !JSON.parse(readFileSync(path.join(ROOT, 'packages', dir, 'package.json'),
                                                                    'utf8')).private);
// The run's folder, made once there is something to put in it: finish() may run before (no dist).
let work = reuse || null;
const missingDist = published.filter(dir => !existsSync(path.join(ROOT, 'packages', dir, 'dist', 'index.js')));
if (missingDist.length > 0) {
  spec('packages are built', false, `no dist/ for ${missingDist.join(', ')}: run \`npm run build\` first`);
  finish();
}
// Outside the repository: Node and esbuild resolve modules up the folder tree, and must
// find only what the project installed, not the monorepo's node_modules.
work ??= mkdtempSync(path.join(tmpdir(), 'sluice-real-client-'));
const tarballs = path.join(work, 'tarballs');
const project = path.join(work, 'project');
if (!reuse) packAndInstall();

function packAndInstall() {
  mkdirSync(tarballs);
  mkdirSync(project);
  console.log(`[real-client] npm pack ${published.length} packages into ${tarballs}`);
  const pack = run('npm', ['pack', '--pack-destination', tarballs, '--json',
                           ...published.flatMap(dir => ['-w', `packages/${dir}`])], {cwd: ROOT});
  let packed = [];
  try {
    packed = JSON.parse(pack.output.slice(pack.output.indexOf('[')));
  } catch {
    // reported below
  }
  spec(`npm pack: ${published.length} tarballs`, pack.ok && packed.length === published.length, tail(pack.output));

  for (const p of packed) {
    const files = p.files.map(f => f.path);
    const dir = p.name.replace('@sluice/', '');
    const problems = [];
    for (const need of ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts']) {
      if (!files.includes(need)) problems.push(`no ${need}`);
    }
    const bad = files.filter(f => /_test\.|\.tsbuildinfo$|^src\//.test(f) ||
                                  (f.startsWith('dist/testing/') && dir !== 'core'));
    if (bad.length > 0) problems.push(`ships ${bad.slice(0, 4).join(', ')}${bad.length > 4 ? ', ...' : ''}`);
    spec(`${p.name} tarball: dist, types, README, LICENSE; no sources, tests or build info (${files.length} files)`,
         problems.length === 0, problems.join('; '));
  }

  // ---- 2. install ------------------------------------------------------------------------------
  writeFileSync(path.join(project, 'package.json'),
                JSON.stringify({name: 'sluice-real-client', version: '0.0.0', private: true}, null, 2));
  const tfjsPackages = ['tfjs', 'tfjs-core', 'tfjs-layers', 'tfjs-backend-cpu', 'tfjs-backend-webgl',
                        'tfjs-backend-webgpu'].map(p => `@tensorflow/${p}@${TFJS}`);
  console.log(`[real-client] npm install the tarballs and ${tfjsPackages.join(', ')} (prefer-offline) ...`);
  const install = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts',
                              ...packed.map(p => path.join(tarballs, p.filename)), ...tfjsPackages], {cwd: project});
  spec('npm install into a fresh project', install.ok, tail(install.output));
  if (!install.ok) finish();
  console.log(`[real-client] installed (${seconds()} s)`);
}

// ---- 3. README blocks ------------------------------------------------------------------------
/** Every fenced block of a README, with the `<!-- test: ... -->` annotation on the line before it. */
function readmeBlocks(file) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; ++i) {
    const open = /^```(\w*)\s*$/.exec(lines[i]);
    if (!open) continue;
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) ++end;
    let j = i - 1;
    while (j >= 0 && lines[j].trim() === '') --j;
    const note = j >= 0 ? /^<!--\s*test:\s*(.*?)\s*-->$/.exec(lines[j].trim()) : null;
    blocks.push({lang: open[1], line: i + 1, code: lines.slice(i + 1, end).join('\n'), note: note?.[1] ?? ''});
    i = end;
  }
  return blocks;
}

const readmes = ['README.md', ...published.map(dir => `packages/${dir}/README.md`)];
const jsBlocks = [];
for (const readme of readmes) {
  for (const b of readmeBlocks(path.join(ROOT, readme))) {
    const lang = {javascript: 'js', typescript: 'ts'}[b.lang] ?? b.lang;
    if (lang !== 'js' && lang !== 'ts') continue;
    jsBlocks.push({...b, lang, name: `${readme}:${b.line}`});
  }
}
console.log(`[real-client] ${jsBlocks.length} js/ts blocks in ${readmes.length} READMEs`);

/**
 * ESM source -> CJS, as a user would rewrite it: each import becomes a
 * require(), the rest runs in an async function (for top-level await).
 */
function toCjs(code) {
  const head = [], body = [];
  const statements = code.replace(/^import\s[^;]*?from\s*['"][^'"]+['"];?|^import\s*['"][^'"]+['"];?/gms, m => {
    head.push(m);
    return '';
  });
  body.push(statements);
  const requires = head.map(stmt => {
    const from = /['"]([^'"]+)['"];?$/.exec(stmt.trim())[1];
    const what = stmt.replace(/^import\s*/, '').replace(/\s*from\s*['"][^'"]+['"];?$/s, '').trim();
    if (what === '' || /^['"]/.test(what)) return `require('${from}');`;
    const star = /^\*\s+as\s+(\w+)$/.exec(what);
    if (star) return `const ${star[1]} = require('${from}');`;
    const named = /^\{(.*)\}$/s.exec(what);
    if (named) return `const {${named[1].replace(/\b(\w+)\s+as\s+(\w+)/g, '$1: $2')}} = require('${from}');`;
    return `const ${what} = require('${from}');`;
  });
  return `${requires.join('\n')}\n(async () => {\n${body.join('\n')}\n})().catch(e => {\n  console.error(e);\n` +
         `  process.exit(1);\n});\n`;
}

const usesImport = code => /^import\b/m.test(code);
const usesRequire = code => /\brequire\(/.test(code);
let blockIndex = 0;
const browserBlocks = [];
const nodeTfjs = tfjsNodeEnv();
const tsBlockFiles = [];

for (const b of jsBlocks) {
  const id = `block_${++blockIndex}`;
  const where = b.note.split(/\s+/)[0];
  if (where === 'skip') {
    skip(`${b.name} (README ${b.lang} block)`, b.note.replace(/^skip\s*/, '').replace(/^\((.*)\)$/, '$1') ||
         'no reason given');
    continue;
  }
  const cjsOnly = usesRequire(b.code) && !usesImport(b.code);
  const modes = where === 'node' ? ['esm', 'cjs'] : where === 'browser' ? ['browser'] :
                where === 'tfjs-node' ? ['tfjs-node'] : ['esm', 'cjs', 'browser'];
  let code = b.code;
  if (b.lang === 'ts') {
    const tsFile = path.join(project, `${id}.ts`);
    writeFileSync(tsFile, `export {};\n${code}\n`);
    tsBlockFiles.push({file: tsFile, name: b.name});
    code = esbuild.transformSync(code, {loader: 'ts', format: 'esm'}).code;
  }
  for (const mode of modes) {
    if (mode === 'browser') {
      browserBlocks.push({...b, id, code});
      continue;
    }
    if (mode === 'esm' && cjsOnly) continue;
    if (mode === 'tfjs-node') {
      if (nodeTfjs.missing) {
        skip(`${b.name} in Node with tfjs-node`, nodeTfjs.missing);
        continue;
      }
      // The monorepo's tfjs-node (its addon built offline) through NODE_PATH: CJS require() only.
      const file = path.join(project, `${id}.tfjs-node.cjs`);
      writeFileSync(file, cjsOnly ? code : toCjs(code));
      const r = run(process.execPath, [file], {cwd: project, timeout: 120_000,
        env: {...process.env, ...nodeTfjs.env, NODE_PATH: path.join(ROOT, 'node_modules'), TF_CPP_MIN_LOG_LEVEL: '2'}});
      spec(`${b.name} runs in Node (CJS, tfjs-node)`, r.ok, tail(r.output));
      continue;
    }
    const file = path.join(project, `${id}.${mode === 'esm' ? 'mjs' : 'cjs'}`);
    writeFileSync(file, mode === 'esm' ? code : cjsOnly ? code : toCjs(code));
    const r = run(process.execPath, [file], {cwd: project, timeout: 120_000});
    spec(`${b.name} runs in Node (${mode === 'esm' ? 'ESM' : 'CJS'})`, r.ok, tail(r.output));
  }
}

// ---- 4. TypeScript: the programs and the ts blocks, strict, one tsc run, one spec per file ----------
const PROGRAMS = {
  'program.ts': 'scripts/real_client/program.ts (linearCrossEntropy, the head layer, losses, the MoE layer)',
  'program_moe_ops.ts': 'scripts/real_client/program_moe_ops.ts (topOneSuppression and the MoE ops)',
};
for (const f of Object.keys(PROGRAMS)) cpSync(path.join(ROOT, 'scripts', 'real_client', f), path.join(project, f));
const tsFiles = [...Object.keys(PROGRAMS), ...tsBlockFiles.map(f => path.basename(f.file))];
writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({
  compilerOptions: {strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022',
                    lib: ['es2022', 'dom'], skipLibCheck: true, types: []},
  files: tsFiles,
}, null, 2));
const tsc = run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project],
                {cwd: project});
// tsc prints `file(line,col): error ...` and indented continuation lines: each error goes to its file's spec.
const tscErrors = new Map(tsFiles.map(f => [f, []]));
let current = null;
for (const line of tsc.output.split('\n')) {
  const file = /^([^\s(]+)\(\d+,\d+\): error/.exec(line)?.[1];
  if (file != null) current = tscErrors.has(file) ? file : null;
  if (current != null && line.trim()) tscErrors.get(current).push(line);
}
for (const f of tsFiles) {
  const what = PROGRAMS[f] ?? `the ts block ${tsBlockFiles.find(b => path.basename(b.file) === f).name}`;
  spec(`tsc --strict --noEmit through the exports maps: ${what}`, tscErrors.get(f).length === 0,
       tscErrors.get(f).join('\n'));
}
const attributed = [...tscErrors.values()].some(e => e.length > 0);
if (!tsc.ok && !attributed) spec('tsc --strict --noEmit ran', false, tail(tsc.output, 30));

// ---- 5. self-contained gradients in Node ---------------------------------------------------
for (const f of ['core_only.mjs', 'core_only_ops.mjs']) cpSync(path.join(ROOT, 'scripts', 'real_client', f), path.join(project, f));
for (const withKernels of [false, true]) {
  const how = withKernels ? 'tfjs-core + tfjs-backend-cpu + @sluice/backend-cpu' : 'tfjs-core + tfjs-backend-cpu';
  const r = run(process.execPath, [path.join(project, 'core_only.mjs'), withKernels ? 'kernels' : 'composite'],
                {cwd: project, timeout: 120_000});
  reportCoreOnly(`Node, ${how}`, r.output, r.ok);
}

/** core_only prints one `CORE_ONLY <op> ok|<error>` line per op. */
function reportCoreOnly(how, output, exitedOk) {
  const lines = output.split('\n').filter(l => l.startsWith('CORE_ONLY '));
  if (lines.length === 0) {
    spec(`forward + backward of every op with ${how}`, false, tail(output));
    return;
  }
  for (const line of lines) {
    const [, op, ...rest] = line.split(' ');
    const result = rest.join(' ');
    spec(`${op}: forward + backward with ${how} only`, result === 'ok', result);
  }
  if (!exitedOk && lines.every(l => l.endsWith(' ok'))) spec(`core_only (${how}) exits cleanly`, false, tail(output));
}

// ---- 6. Chromium: README blocks and self-contained gradients from esbuild bundles -----------
await runInBrowser();
finish();

async function runInBrowser() {
  const chrome = process.env.CHROME_BIN || '/usr/bin/chromium';
  if (!existsSync(chrome)) {
    const why = `no Chromium at ${chrome}`;
    if (process.env.CI) spec('Chromium is installed (CI)', false, why);
    else skip(`${browserBlocks.length} README blocks and the core-only gradients in Chromium`, why);
    return;
  }
  // playwright-core from the monorepo: the user project needs none of it.
  const {chromium} = await import('playwright-core');
  const pages = {};
  const bundleFor = async (name, source) => {
    const entry = path.join(project, `${name}.browser.mjs`);
    // Signals the end of the block (after its top-level awaits) to the page.
    writeFileSync(entry, `${source}\nwindow.__sluiceDone = true;\n`);
    const out = await esbuild.build({entryPoints: [entry], bundle: true, write: false, format: 'esm',
                                     platform: 'browser', target: 'es2022', absWorkingDir: project, logLevel: 'silent',
                                     define: {'process.env.NODE_ENV': '"production"'}});
    pages[name] = out.outputFiles[0].text;
  };
  const targets = [];
  for (const b of browserBlocks) {
    try {
      await bundleFor(b.id, b.code);
      targets.push({name: `${b.name} runs in Chromium (esbuild bundle)`, page: b.id});
    } catch (e) {
      spec(`${b.name} bundles for the browser (esbuild)`, false, e.message);
    }
  }
  for (const mode of ['composite', 'kernels']) {
    const source = readFileSync(path.join(ROOT, 'scripts', 'real_client', 'core_only_browser.mjs'), 'utf8')
                       .replace(`'@sluice/backend-webgl' /* MODE */`, mode === 'kernels' ? `'@sluice/backend-webgl'`
                                                                                         : `'@sluice/core'`);
    await bundleFor(`core_only_${mode}`, source);
    targets.push({coreOnly: mode, page: `core_only_${mode}`});
  }
  const profile = mkdtempSync(path.join(work, 'chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chrome, headless: true,
    args: ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader',
           '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  // Served from http://localhost (a secure context, as WebGPU needs) by request interception: no server.
  await context.route('http://localhost/**', route => {
    const name = new URL(route.request().url()).pathname.slice(1).replace(/\.(html|js)$/, '');
    if (route.request().url().endsWith('.js')) {
      return route.fulfill({contentType: 'text/javascript', body: pages[name]});
    }
    return route.fulfill({contentType: 'text/html',
                          body: `<!doctype html><meta charset=utf-8><script type=module src="/${name}.js"></script>`});
  });
  try {
    for (const t of targets) {
      const page = await context.newPage();
      const errors = [];
      const logs = [];
      page.on('pageerror', e => errors.push(e.message));
      page.on('console', m => logs.push(m.text()));
      await page.goto(`http://localhost/${t.page}.html`, {waitUntil: 'commit'});
      await page.waitForFunction(() => window.__sluiceDone === true, null, {timeout: 180_000}).catch(e => {
        if (errors.length === 0) errors.push(`did not finish: ${e.message.split('\n')[0]}`);
      });
      if (t.coreOnly) {
        reportCoreOnly(`Chromium webgl, tfjs-core + tfjs-backend-webgl${t.coreOnly === 'kernels' ? ' + @sluice/backend-webgl' : ''}`,
                       [...logs, ...errors.map(e => `page error: ${e}`)].join('\n'), errors.length === 0);
      } else {
        spec(t.name, errors.length === 0, [...errors, ...logs.slice(-10)].join('\n'));
      }
      await page.close();
    }
  } finally {
    await context.close();
  }
}

function finish() {
  // `work` is null when finish() runs before anything was made (no dist).
  if (work != null && !keep) {
    try {
      rmSync(work, {recursive: true, force: true, maxRetries: 3});
    } catch {
      // a leftover in .tmp/ is harmless
    }
  } else if (work != null) {
    console.log(`[real-client] kept ${work}`);
  }
  console.log(`\n[real-client] ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped (${seconds()} s)`);
  console.log(`SLUICE_COUNTS ${JSON.stringify(counts)}`);
  process.exit(counts.failed > 0 ? 1 : 0);
}

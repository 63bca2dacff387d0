// `npm run bench -- [flags]`: bundles the bench package and runs it in Node.
// With --op (cce, moe or head) it runs that benchmark (flags: packages/bench/src/
// bench_flags.ts, `npm run bench -- --help`); without, it runs the suite
// below, one child per benchmark, and rewrites the README's results between
// the `<!-- bench:begin -->` and `<!-- bench:end -->` markers from the
// markdown each run writes to .build/bench/. A section the run leaves out
// (`--only`, or a long one without `--long`) or whose benchmark fails keeps
// its text from the README, dated as it was (a failure is printed and makes
// the exit status 1); `--no-readme` leaves the README alone.
import {spawnSync} from 'node:child_process';
import {existsSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {parseArgs} from 'node:util';

import {bundle, ROOT} from './bundle.mjs';
import {tfjsNodeEnv} from './tfjs_node_env.mjs';

const SUITE_USAGE = `usage: npm run bench [-- --long] [-- --only id,...] [-- --no-readme]
  the suite: every benchmark below, then the README's results block rewritten
  --long         also the long rows (marked "long" below: minutes each)
  --only id,...  just these (long ones included when named); the README keeps the other sections
  --no-readme    leave README.md alone (results stay in .build/bench/)
   or: npm run bench -- --op cce|moe|head [flags]   one benchmark (its flags follow)`;

const out = path.join(ROOT, '.build', 'bench', 'bench.cjs');
let bundled;

async function run(args, backend) {
  // webgl needs a browser: packages/bench/src/run_browser_bench.mjs drives headless Chromium.
  if (backend === 'webgl') {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'packages/bench/src/run_browser_bench.mjs'), ...args],
                        {stdio: 'inherit', cwd: ROOT});
    return r.status ?? 1;
  }
  // tfjs-node is a native addon: required at run time (--backend tensorflow), never bundled.
  // So is Dawn (`webgpu`, --backend webgpu), which also needs a Vulkan driver in its environment.
  bundled ??= bundle('packages/bench/src/main.ts', out, 'node', ['@tensorflow/tfjs-node', 'webgpu']);
  await bundled;
  let env = process.env;
  if (backend === 'webgpu') {
    const dawn = (await import('./webgpu_env.mjs')).dawnEnv();
    if (dawn.missing) {
      console.error(`bench: --backend webgpu cannot run: ${dawn.missing}`);
      return 1;
    }
    console.log(`bench: webgpu through Dawn, ${dawn.note}`);
    env = dawn.env;
  }
  const r = spawnSync(process.execPath, ['--max-old-space-size=16384', out, ...args],
                      {stdio: 'inherit', cwd: ROOT, env: {TF_CPP_MIN_LOG_LEVEL: '2', ...env}});
  return r.status ?? 1;
}

/**
 * The suite: {id, title, args, file (the markdown it writes), long?}. Shapes as in the issues; the slow
 * tfjs-cpu paths scaled; GPU backends pick their shapes from the adapter (scaled down on software ones,
 * printed with the table).
 */
function suite() {
  const tensorflow = !tfjsNodeEnv().missing;
  return [
    {id: 'cce-cpu', title: 'Fused cross-entropy on cpu', args: ['--op', 'cce', '--backend', 'cpu'], file: 'cce-cpu.md'},
    {id: 'moe-cpu',
     title: 'Sparse MoE feed-forward on cpu, issue shape (the per-expert gather loop is left out: tfjs-cpu\'s ' +
         'unsortedSegmentSum makes it take tens of minutes there)',
     args: ['--op', 'moe', '--backend', 'cpu', '--variants', 'dense,sparse'], file: 'moe-cpu.md'},
    {id: 'moe-cpu-scaled', title: 'Sparse MoE feed-forward on cpu, scaled down so all three variants finish',
     args: ['--op', 'moe', '--backend', 'cpu', '--n', '1024', '--d', '128', '--h', '256', '--e', '8', '--out',
            '.build/bench/scaled'],
     file: 'scaled/moe-cpu.md'},
    ...(tensorflow ? [
      {id: 'cce-tensorflow', title: 'Fused cross-entropy on tensorflow (tfjs-node), issue shape',
       args: ['--op', 'cce', '--backend', 'tensorflow', '--n', '4096', '--d', '256', '--v', '32768'],
       file: 'cce-tensorflow.md'},
      {id: 'moe-tensorflow', title: 'Sparse MoE feed-forward on tensorflow (tfjs-node)',
       args: ['--op', 'moe', '--backend', 'tensorflow'], file: 'moe-tensorflow.md'},
    ] : []),
    {id: 'cce-webgl', title: 'Fused cross-entropy on webgl (headless Chromium)',
     args: ['--op', 'cce', '--backend', 'webgl'], file: 'cce-webgl.md'},
    {id: 'cce-webgpu', title: 'Fused cross-entropy on webgpu (Node, Dawn)', args: ['--op', 'cce', '--backend', 'webgpu'],
     file: 'cce-webgpu.md'},
    {id: 'moe-webgl', title: 'Sparse MoE feed-forward on webgl (headless Chromium; scaled down on SwiftShader)',
     args: ['--op', 'moe', '--backend', 'webgl'], file: 'moe-webgl.md'},
    {id: 'moe-webgpu', title: 'Sparse MoE feed-forward on webgpu (Node, Dawn; scaled down on a software adapter)',
     args: ['--op', 'moe', '--backend', 'webgpu'], file: 'moe-webgpu.md'},
    // Long: minutes each (tensorflow: the floor and fused at V = 262,144 are ~1.6 TFLOP per pass).
    ...(tensorflow ? [
      {id: 'cce-vocab-tensorflow', long: true,
       title: 'Fused cross-entropy at real vocabularies on tensorflow (tfjs-node), N=4096 D=256',
       args: ['--op', 'cce', '--backend', 'tensorflow', '--vocab-sweep', '--repeats', '3'], file: 'cce-vocab-tensorflow.md'},
    ] : []),
    {id: 'cce-vocab-webgl', long: true,
     title: 'Fused cross-entropy at real vocabularies on webgl (headless Chromium; N scaled down on SwiftShader)',
     args: ['--op', 'cce', '--backend', 'webgl', '--vocab-sweep', '--timeout-min', '90'], file: 'cce-vocab-webgl.md'},
    {id: 'cce-vocab-webgpu', long: true,
     title: 'Fused cross-entropy at real vocabularies on webgpu (Node, Dawn; N scaled down on a software adapter)',
     args: ['--op', 'cce', '--backend', 'webgpu', '--vocab-sweep'], file: 'cce-vocab-webgpu.md'},
  ];
}

/** The `#### title` sections of the README's generated block, by title. */
function sectionsOf(block) {
  const sections = new Map();
  for (const part of block.split(/^(?=#### )/m).filter(p => p.startsWith('#### '))) {
    sections.set(part.slice(5, part.indexOf('\n')), part.trimEnd() + '\n');
  }
  return sections;
}

function parseSuiteArgs(args) {
  try {
    return parseArgs({args, strict: true, allowPositionals: false,
                      options: {long: {type: 'boolean'}, only: {type: 'string'}, 'no-readme': {type: 'boolean'}}}).values;
  } catch (e) {
    console.error(`bench: ${e.message.split('\n')[0]} (benchmark flags need --op; see npm run bench -- --help)`);
    process.exit(2);
  }
}

const args = process.argv.slice(2);
// Lenient here: the benchmark's own parser (bench_flags.ts) checks every flag strictly.
const {values: first} = parseArgs({args, strict: false, allowPositionals: true,
                                   options: {op: {type: 'string'}, backend: {type: 'string'},
                                             help: {type: 'boolean', short: 'h'}}});
if (first.help && first.op === undefined) {
  console.log(`${SUITE_USAGE}\n\nsuite ids: ${suite().map(e => e.id + (e.long ? ' (long)' : '')).join(', ')}\n`);
}
if (first.op !== undefined || first.help) {
  process.exit(await run(args, first.backend));
}
const opts = parseSuiteArgs(args);
const entries = suite();
let selected = entries.filter(e => opts.long || !e.long);
if (opts.only !== undefined) {
  const ids = opts.only.split(',').map(s => s.trim()).filter(Boolean);
  const unknown = ids.filter(id => !entries.some(e => e.id === id));
  if (ids.length === 0 || unknown.length > 0) {
    console.error(`bench: --only must be a comma-separated list of ${entries.map(e => e.id).join(', ')}; got ` +
                  `'${opts.only}'`);
    process.exit(2);
  }
  selected = entries.filter(e => ids.includes(e.id));
}
const readme = path.join(ROOT, 'README.md');
const text = readFileSync(readme, 'utf8');
const begin = '<!-- bench:begin -->', end = '<!-- bench:end -->';
const i = text.indexOf(begin), j = text.indexOf(end);
if (!opts['no-readme'] && (i < 0 || j < i)) {
  console.error(`bench: README.md has no ${begin} … ${end} section to rewrite (or pass --no-readme)`);
  process.exit(1);
}
const previous = i >= 0 && j > i ? sectionsOf(text.slice(i, j)) : new Map();
const sections = [];
const failed = [];
for (const entry of entries) {
  if (!selected.includes(entry)) {
    if (previous.has(entry.title)) sections.push(previous.get(entry.title));
    continue;
  }
  console.log(`\n=== bench: ${entry.title}`);
  const md = path.join(ROOT, '.build', 'bench', entry.file);
  rmSync(md, {force: true});  // what the README gets is this run's
  const status = await run(entry.args, entry.args[entry.args.indexOf('--backend') + 1]);
  if (status !== 0 || !existsSync(md)) {
    // A failed run is no result: the README keeps its last numbers (dated as they were), the log and the
    // exit status say what failed.
    const why = status !== 0 ? `exit ${status}` : `exit 0 but no ${path.relative(ROOT, md)}`;
    failed.push(`${entry.id} (${why})`);
    console.error(`\nbench: ${entry.id} failed (${why}); ${previous.has(entry.title) ?
        'the README keeps its previous section' : 'the README had no section for it and gets none'}`);
    if (previous.has(entry.title)) sections.push(previous.get(entry.title));
    continue;
  }
  sections.push(`#### ${entry.title}\n\n${readFileSync(md, 'utf8').replace(/^### .*\n\n/, '').trimEnd()}\n`);
}
if (!opts['no-readme']) {
  const body = `${begin}\n<!-- written by \`npm run bench\`; edit scripts/bench.mjs, not this block. A section a run ` +
      `leaves out (--only, or a --long one) or fails keeps its last text. -->\n\n${sections.join('\n')}\n${end}`;
  writeFileSync(readme, text.slice(0, i) + body + text.slice(j + end.length));
  console.log('\nbench: README.md results rewritten');
}
if (failed.length > 0) console.error(`\nbench: ${failed.length} of ${selected.length} failed: ${failed.join(', ')}`);
process.exit(failed.length > 0 ? 1 : 0);

// `npm run bench -- [flags]`: bundles the bench package and runs it in Node.
// With --op (cce or moe) it runs that benchmark; without, it runs the suite
// below, one child per benchmark, and rewrites the README's results between
// the `<!-- bench:begin -->` and `<!-- bench:end -->` markers from the
// markdown each run writes to .build/bench/ (`--no-readme` leaves it alone).
import {spawnSync} from 'node:child_process';
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';

import {bundle, ROOT} from './bundle.mjs';
import {tfjsNodeEnv} from './tfjs_node_env.mjs';

const out = path.join(ROOT, '.build', 'bench', 'bench.cjs');
// tfjs-node is a native addon: required at run time (--backend tensorflow), never bundled.
// So is Dawn (`webgpu`, --backend webgpu), which also needs a Vulkan driver in its environment.
await bundle('packages/bench/src/main.ts', out, 'node', ['@tensorflow/tfjs-node', 'webgpu']);

async function run(args) {
  // webgl needs a browser: packages/bench/src/run_browser_bench.mjs drives headless Chromium.
  if (args.some((a, i) => a === '--backend' && args[i + 1] === 'webgl')) {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'packages/bench/src/run_browser_bench.mjs'), ...args],
                        {stdio: 'inherit', cwd: ROOT});
    return r.status ?? 1;
  }
  let env = process.env;
  if (args.some((a, i) => a === '--backend=webgpu' || (a === '--backend' && args[i + 1] === 'webgpu'))) {
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

/** The suite: [title, args, markdown file it writes]. Shapes as in the issues; the slow tfjs-cpu paths scaled. */
function suite() {
  const list = [
    ['Fused cross-entropy on cpu', ['--op', 'cce', '--backend', 'cpu'], 'cce-cpu.md'],
    ['Sparse MoE feed-forward on cpu, issue shape (the per-expert gather loop is left out: tfjs-cpu\'s ' +
         'unsortedSegmentSum makes it take tens of minutes there)',
     ['--op', 'moe', '--backend', 'cpu', '--variants', 'dense,sparse'], 'moe-cpu.md'],
    ['Sparse MoE feed-forward on cpu, scaled down so all three variants finish',
     ['--op', 'moe', '--backend', 'cpu', '--n', '1024', '--d', '128', '--h', '256', '--e', '8', '--out',
      '.build/bench/scaled'], 'scaled/moe-cpu.md'],
  ];
  if (!tfjsNodeEnv().missing) {
    list.push(['Fused cross-entropy on tensorflow (tfjs-node), issue shape',
               ['--op', 'cce', '--backend', 'tensorflow', '--n', '4096', '--d', '256', '--v', '32768'],
               'cce-tensorflow.md']);
    list.push(['Sparse MoE feed-forward on tensorflow (tfjs-node)', ['--op', 'moe', '--backend', 'tensorflow'],
               'moe-tensorflow.md']);
  }
  // GPU backends pick their shapes from the adapter (scaled down on software ones, printed with the table).
  list.push(['Fused cross-entropy on webgl (headless Chromium)', ['--op', 'cce', '--backend', 'webgl'], 'cce-webgl.md']);
  list.push(['Fused cross-entropy on webgpu (Node, Dawn)', ['--op', 'cce', '--backend', 'webgpu'], 'cce-webgpu.md']);
  list.push(['Sparse MoE feed-forward on webgl (headless Chromium; scaled down on SwiftShader)',
             ['--op', 'moe', '--backend', 'webgl'], 'moe-webgl.md']);
  list.push(['Sparse MoE feed-forward on webgpu (Node, Dawn; scaled down on a software adapter)',
             ['--op', 'moe', '--backend', 'webgpu'], 'moe-webgpu.md']);
  return list;
}

const args = process.argv.slice(2);
if (args.includes('--op') || args.some(a => a.startsWith('--op=')) || args.includes('--help')) {
  process.exit(await run(args));
}
const sections = [];
let failed = 0;
for (const [title, benchArgs, file] of suite()) {
  console.log(`\n=== bench: ${title}`);
  const status = await run(benchArgs);
  const md = path.join(ROOT, '.build', 'bench', file);
  if (status !== 0 || !existsSync(md)) {
    ++failed;
    sections.push(`#### ${title}\n\nfailed (exit ${status}); see the log of \`npm run bench\`.\n`);
    continue;
  }
  sections.push(`#### ${title}\n\n${readFileSync(md, 'utf8').replace(/^### .*\n\n/, '')}`);
}
if (!args.includes('--no-readme')) {
  const readme = path.join(ROOT, 'README.md');
  const text = readFileSync(readme, 'utf8');
  const begin = '<!-- bench:begin -->', end = '<!-- bench:end -->';
  const i = text.indexOf(begin), j = text.indexOf(end);
  if (i < 0 || j < i) {
    console.error(`bench: README.md has no ${begin} … ${end} section; results are in .build/bench/`);
    process.exit(1);
  }
  const body = `${begin}\n<!-- written by \`npm run bench\`; edit scripts/bench.mjs, not this block -->\n\n` +
      `${sections.join('\n')}\n${end}`;
  writeFileSync(readme, text.slice(0, i) + body + text.slice(j + end.length));
  console.log('\nbench: README.md results rewritten');
}
process.exit(failed ? 1 : 0);

// `npm start -- [flags]`: the main job. Bundles the MoE language-model trainer
// (packages/demo/src/trainer) and runs it in Node; `npm start -- --help` lists flags.
// On a fresh machine `npm ci` leaves tfjs-node's native addon unbuilt (its install
// script would download libtensorflow): this builds it offline first, once, with
// scripts/provision-tfjs-node.sh, so the run trains on the 'tensorflow' backend.
// When that fails it says why in one line and the trainer runs its smaller cpu default.
import {spawnSync} from 'node:child_process';
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';

import {bundle, ROOT} from './bundle.mjs';
import {tfjsNodeEnv} from './tfjs_node_env.mjs';

const args = process.argv.slice(2);
const wantsCpu = args.some((a, i) => a === '--backend=cpu' || (a === '--backend' && args[i + 1] === 'cpu'));
const help = args.includes('--help') || args.includes('-h');

/** Extra trainer flags: none when tfjs-node works (or was just built), `--backend cpu` when it cannot. */
function provision() {
  if (wantsCpu || help) return [];
  const found = tfjsNodeEnv();
  if (!found.missing) return [];
  const log = path.join(ROOT, '.build', 'demo', 'provision-tfjs-node.log');
  mkdirSync(path.dirname(log), {recursive: true});
  console.log(`tfjs-node's native addon is not built: building it offline now with scripts/provision-tfjs-node.sh ` +
              `(about 40 s, once; log: ${path.relative(ROOT, log)})`);
  const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'provision-tfjs-node.sh'), ROOT],
                      {cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 2 ** 20});
  writeFileSync(log, `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `\n${r.error.message}` : ''}`);
  if (r.status === 0 && !tfjsNodeEnv().missing) return [];
  const last = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).pop() ?? `exit status ${r.status}`;
  console.log(`building tfjs-node failed (${last.replace(/^\[provision-tfjs-node\] /, '')}); training the smaller ` +
              'cpu default instead');
  return ['--backend', 'cpu'];
}

const extra = provision();
const out = path.join(ROOT, '.build', 'demo', 'trainer.cjs');
// tfjs-node is a native addon: loaded at run time when present, never bundled.
await bundle('packages/demo/src/trainer/main.ts', out, 'node', ['@tensorflow/tfjs-node']);
const r = spawnSync(process.execPath, [out, ...args, ...extra], {
  stdio: 'inherit',
  cwd: ROOT,
  env: {TF_CPP_MIN_LOG_LEVEL: '2', TF_ENABLE_ONEDNN_OPTS: '0', ...process.env},
});
process.exit(r.status ?? 1);

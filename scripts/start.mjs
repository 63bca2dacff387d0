// `npm start -- [flags]`: the main job. Bundles the MoE language-model trainer
// (packages/demo/src/trainer) and runs it in Node; `npm start -- --help` lists flags.
import {spawnSync} from 'node:child_process';
import path from 'node:path';

import {bundle, ROOT} from './bundle.mjs';

const out = path.join(ROOT, '.build', 'demo', 'trainer.cjs');
// tfjs-node is a native addon: loaded at run time when present, never bundled.
await bundle('packages/demo/src/trainer/main.ts', out, 'node', ['@tensorflow/tfjs-node']);
const r = spawnSync(process.execPath, [out, ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: ROOT,
  env: {TF_CPP_MIN_LOG_LEVEL: '2', TF_ENABLE_ONEDNN_OPTS: '0', ...process.env},
});
process.exit(r.status ?? 1);

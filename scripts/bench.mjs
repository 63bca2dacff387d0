// `npm run bench -- [flags]`: bundles the bench package and runs it in Node.
import {spawnSync} from 'node:child_process';
import path from 'node:path';

import {bundle, ROOT} from './bundle.mjs';

const out = path.join(ROOT, '.build', 'bench', 'bench.cjs');
// tfjs-node is a native addon: required at run time (--backend tensorflow), never bundled.
// So is Dawn (`webgpu`, --backend webgpu), which also needs a Vulkan driver in its environment.
await bundle('packages/bench/src/main.ts', out, 'node', ['@tensorflow/tfjs-node', 'webgpu']);
const args = process.argv.slice(2);
let env = process.env;
if (args.some((a, i) => a === '--backend=webgpu' || (a === '--backend' && args[i + 1] === 'webgpu'))) {
  const dawn = (await import('./webgpu_env.mjs')).dawnEnv();
  if (dawn.missing) {
    console.error(`bench: --backend webgpu cannot run: ${dawn.missing}`);
    process.exit(1);
  }
  console.log(`bench: webgpu through Dawn, ${dawn.note}`);
  env = dawn.env;
}
const r = spawnSync(process.execPath, ['--max-old-space-size=16384', out, ...args],
                    {stdio: 'inherit', cwd: ROOT, env: {TF_CPP_MIN_LOG_LEVEL: '2', ...env}});
process.exit(r.status ?? 1);

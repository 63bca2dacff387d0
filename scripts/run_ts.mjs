// `node scripts/run_ts.mjs <entry.ts> [args]`: bundles a TypeScript entry of the monorepo and runs it in Node.
import {spawnSync} from 'node:child_process';
import path from 'node:path';

import {bundle, ROOT} from './bundle.mjs';

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run_ts.mjs <entry.ts> [args]');
  process.exit(2);
}
const out = path.join(ROOT, '.build', 'run', `${path.basename(entry, '.ts')}.cjs`);
await bundle(entry, out, 'node', ['@tensorflow/tfjs-node', 'webgpu']);
const r = spawnSync(process.execPath, [out, ...args], {stdio: 'inherit', cwd: ROOT});
process.exit(r.status ?? 1);

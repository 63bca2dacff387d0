// `npm start -- [flags]`: the main job. Bundles the demo trainer and runs it in Node.
import {spawnSync} from 'node:child_process';
import path from 'node:path';

import {bundle, ROOT} from './bundle.mjs';

const out = path.join(ROOT, '.build', 'demo', 'start.cjs');
await bundle('packages/demo/src/classifier_head.ts', out, 'node');
const r = spawnSync(process.execPath, [out, ...process.argv.slice(2)], {stdio: 'inherit', cwd: ROOT});
process.exit(r.status ?? 1);

// `npm run bench -- [flags]`: bundles the bench package and runs it in Node.
import {spawnSync} from 'node:child_process';
import path from 'node:path';

import {bundle, ROOT} from './bundle.mjs';

const out = path.join(ROOT, '.build', 'bench', 'bench.cjs');
await bundle('packages/bench/src/main.ts', out, 'node');
const r = spawnSync(process.execPath, ['--max-old-space-size=16384', out, ...process.argv.slice(2)],
                    {stdio: 'inherit', cwd: ROOT});
process.exit(r.status ?? 1);

// Requires each built CommonJS bundle next to tfjs-core's own CommonJS build
// and checks its public exports, as a user's `require('@sluice/...')` would.
import {createRequire} from 'node:module';
import path from 'node:path';

import {ROOT} from './bundle.mjs';

const require = createRequire(path.join(ROOT, 'package.json'));
const EXPECT = {
  'core': ['linearCrossEntropy', 'topOneSuppression', 'SluiceLinearCrossEntropy', 'SLUICE_FORCE_COMPOSITE'],
  'backend-cpu': ['KERNEL_CONFIGS', 'registerKernels'],
  'backend-webgl': ['KERNEL_CONFIGS', 'registerKernels'],
  'backend-webgpu': ['KERNEL_CONFIGS', 'registerKernels'],
  'backend-node': ['KERNEL_CONFIGS', 'registerKernels'],
  'regularizers': [],
  'moe': ['mixtureOfExperts', 'MixtureOfExperts'],
};
// Backends whose peer cannot load in plain Node without a GPU or native addon.
const SKIP_REQUIRE = {'backend-webgpu': 'needs navigator.gpu', 'backend-webgl': 'needs a WebGL context',
                      'backend-node': 'needs the tfjs-node addon'};

const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
let failed = 0;
for (const dir of process.argv.slice(2)) {
  const pkg = require(path.join(ROOT, 'packages', dir, 'package.json'));
  if (SKIP_REQUIRE[dir]) {
    console.log(`  ${pkg.name}: not required in this check (${SKIP_REQUIRE[dir]})`);
    continue;
  }
  try {
    const mod = require(path.join(ROOT, 'packages', dir, pkg.main));
    const missing = (EXPECT[dir] ?? []).filter(name => mod[name] == null);
    if (missing.length > 0) throw new Error(`missing exports: ${missing.join(', ')}`);
    console.log(`  ${pkg.name}: ${Object.keys(mod).length} exports ok`);
  } catch (e) {
    ++failed;
    console.error(`  ${pkg.name}: FAILED: ${e.message.split('\n')[0]}`);
  }
}
if (!failed && process.argv.includes('core') && process.argv.includes('backend-cpu')) {
  // End to end through the CJS bundles on tfjs-core's CJS build.
  const core = require(path.join(ROOT, 'packages/core', require(path.join(ROOT, 'packages/core/package.json')).main));
  require(path.join(ROOT, 'packages/backend-cpu', require(path.join(ROOT, 'packages/backend-cpu/package.json')).main));
  await tf.setBackend('cpu');
  const loss = core.linearCrossEntropy(tf.ones([2, 3]), tf.ones([4, 3]), tf.tensor1d([0, 3], 'int32'));
  const value = (await loss.data())[0];
  // Equal logits: the loss is ln V.
  if (Math.abs(value - Math.log(4)) > 1e-5) {
    ++failed;
    console.error(`  linearCrossEntropy through dist gave ${value}, expected ln 4 = ${Math.log(4)}`);
  } else {
    console.log(`  linearCrossEntropy through dist/*.node.cjs on cpu: ${value.toFixed(6)} = ln 4 ok`);
  }
}
process.exit(failed ? 1 : 0);

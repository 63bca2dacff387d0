// Environment for the Node child that runs tfjs-node's 'tensorflow' backend.
// npm does not run tfjs-node's install script here (allowScripts: false in
// package.json): it downloads libtensorflow from a host CI cannot reach.
// scripts/provision-tfjs-node.sh builds the native addon offline instead;
// until it has run, this part is skipped with that reason (a failure in CI).
import {existsSync, readdirSync} from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';

const PROVISION = 'run `bash scripts/provision-tfjs-node.sh` (builds it offline from the TensorFlow CPU wheel)';

/** {env, note} for the child, or {missing: reason, requiredInCI: true}. */
export function tfjsNodeEnv(base = process.env) {
  let pkg;
  try {
    pkg = path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-node/package.json'));
  } catch {
    return {missing: '@tensorflow/tfjs-node is not installed (npm ci installs it)', requiredInCI: true};
  }
  const lib = path.join(pkg, 'lib');
  const addon = existsSync(lib) &&
      readdirSync(lib).map(dir => path.join(lib, dir, 'tfjs_binding.node')).find(file => existsSync(file));
  if (!addon) {
    return {missing: `tfjs-node's native addon is not built (no ${lib}/napi-v*/tfjs_binding.node): ${PROVISION}`,
            requiredInCI: true};
  }
  const env = {
    ...base,
    // oneDNN's notice and its reordered float sums; TensorFlow's INFO/WARNING lines.
    TF_ENABLE_ONEDNN_OPTS: base.TF_ENABLE_ONEDNN_OPTS ?? '0',
    TF_CPP_MIN_LOG_LEVEL: base.TF_CPP_MIN_LOG_LEVEL ?? '2',
  };
  return {env, note: path.relative(process.cwd(), addon)};
}

// Rollup over tsc's ESM output (packages/<dir>/dist/index.js): a CommonJS
// bundle for Node (`main`, sluice-<dir>.node.cjs) and a minified UMD bundle
// for <script> use (`unpkg`, sluice-<dir>.min.js), per library package.
// tfjs and other @sluice packages stay external (peers; globals `tf` and
// `sluice.<name>` in UMD). Deep imports of tfjs internals (`.../dist/...`,
// ES modules that Node's require cannot load and no global exposes) are
// inlined; tfjs-node's are CommonJS and stay external.
import resolve from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import {existsSync, readFileSync} from 'node:fs';
import path from 'node:path';

export const LIBRARIES = ['core', 'backend-cpu', 'backend-webgl', 'backend-webgpu', 'backend-node', 'regularizers',
                          'moe'];

const camel = dir => dir.replace(/-([a-z])/g, (_, c) => c.toUpperCase());

function isExternal(id) {
  if (/^@tensorflow\/tfjs-node(-gpu)?(\/|$)/.test(id)) return true;
  if (/^@tensorflow\/[a-z-]+$/.test(id)) return true;
  return /^@sluice\/[a-z-]+$/.test(id);
}

function globalName(id) {
  if (id.startsWith('@tensorflow/')) return 'tf';
  return `sluice.${camel(id.slice('@sluice/'.length))}`;
}

function configsFor(dir) {
  const root = path.join('packages', dir);
  const input = path.join(root, 'dist', 'index.js');
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const banner = `/** ${pkg.name} ${pkg.version} | ${pkg.license} */`;
  const plugins = [resolve({browser: dir !== 'backend-node', preferBuiltins: true})];
  const onwarn = (warning, warn) => {
    // tfjs's own ESM files use `this` at top level in TypeScript helpers.
    if (warning.code === 'THIS_IS_UNDEFINED' || warning.code === 'CIRCULAR_DEPENDENCY') return;
    warn(warning);
  };
  const configs = [{
    input, external: isExternal, plugins, onwarn,
    output: {file: path.join(root, pkg.main), format: 'cjs', sourcemap: true, banner, exports: 'named'},
  }];
  if (pkg.unpkg) {
    configs.push({
      input, external: isExternal, plugins, onwarn,
      output: {
        file: path.join(root, pkg.unpkg), format: 'umd', name: `sluice.${camel(dir)}`, extend: true,
        globals: globalName, sourcemap: true, banner, exports: 'named', plugins: [terser({format: {comments: /^\*\* @sluice/}})],
      },
    });
  }
  return configs;
}

export default () => {
  const only = process.env.SLUICE_PACKAGES ? process.env.SLUICE_PACKAGES.split(',') : LIBRARIES;
  return only.filter(dir => existsSync(path.join('packages', dir, 'dist', 'index.js'))).flatMap(configsFor);
};


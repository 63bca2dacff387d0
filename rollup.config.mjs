// Rollup over tsc's ESM output (packages/<dir>/dist/index.js, `module`): a
// CommonJS bundle for Node (`main`, dist/sluice-<dir>.node.cjs) and a minified
// UMD bundle for <script> use (`unpkg`/`jsdelivr`, dist/sluice-<dir>.min.js,
// global `sluice.<camelCase dir>`), for every library package, i.e. every
// packages/<dir> with src/index.ts and a tsconfig.json.
//
// What stays external (never bundled):
//   - @sluice/* (global `sluice.<name>` in UMD) and every public tfjs entry
//     `@tensorflow/<pkg>` (global `tf`: tf.min.js and the backend UMD bundles
//     all extend that one global);
//   - deep imports of tfjs-node(-gpu) (`@tensorflow/tfjs-node/dist/...`):
//     CommonJS files Node requires as they are; there is no browser UMD for it.
// What is inlined, in the CJS and UMD bundles only (the ESM build keeps every
// import as written, for the user's bundler to resolve):
//   - the other deep imports, `@tensorflow/tfjs-backend-{webgl,webgpu}/dist/...`.
//     They cannot stay external there: tfjs publishes those files as ES
//     modules with extensionless relative imports, so Node's require() (and
//     Node's ESM loader) fail on them, and the `tf` global exposes only the
//     public API, so a UMD global cannot map to them either. Only the
//     tree-shaken closure of the deep-imported internals is copied (their own
//     imports of `@tensorflow/tfjs-core` stay external); scripts/check_dist.mjs
//     lists them per bundle and fails if tfjs-core itself, or anything that
//     registers a backend, ends up inside a bundle. Type-only deep imports
//     (`import type`) are erased by tsc and cost nothing.
import resolve from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import {existsSync, readdirSync, readFileSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const ROOT = path.dirname(fileURLToPath(import.meta.url));

/** The library packages: every packages/<dir> with src/index.ts, sorted. */
export function libraries() {
  return readdirSync(path.join(ROOT, 'packages'), {withFileTypes: true})
      .filter(e => e.isDirectory() && existsSync(path.join(ROOT, 'packages', e.name, 'src', 'index.ts')))
      .map(e => e.name)
      .sort();
}

export const camel = dir => dir.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());

/** Inlined in CJS/UMD, see above. Anything else under @tensorflow/ or @sluice/ is external. */
export function isInlinedDeepImport(id) {
  return /^@tensorflow\/[a-z0-9-]+\/./.test(id) && !/^@tensorflow\/tfjs-node(-gpu)?\//.test(id);
}

// @sluice/core/internal is inlined too: small and stateless helpers (the
// composite registry lives on globalThis), so a <script> user loads no extra
// file and Node's require() needs no ESM-only internal entry.
function isExternal(id) {
  if (id === '@sluice/core/internal') return false;
  if (/^@sluice\//.test(id)) return true;
  return /^@tensorflow\//.test(id) && !isInlinedDeepImport(id);
}

// Rollup also passes the segments of the UMD `name` through `globals`
// ('sluice' for 'sluice.core'): anything that is not an import is itself.
function globalName(id) {
  if (id.startsWith('@tensorflow/')) return 'tf';
  if (id.startsWith('@sluice/')) return `sluice.${camel(id.slice('@sluice/'.length).split('/')[0])}`;
  return id;
}

function configsFor(dir) {
  const root = path.join(ROOT, 'packages', dir);
  const input = path.join(root, 'dist', 'index.js');
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const banner = `/** ${pkg.name} ${pkg.version} | ${pkg.license} */`;
  const plugins = () => [resolve({browser: dir !== 'backend-node', preferBuiltins: true})];
  const onwarn = warning => {
    // tfjs's own ESM files use `this` at top level in TypeScript helpers.
    if (warning.code === 'THIS_IS_UNDEFINED' || warning.code === 'CIRCULAR_DEPENDENCY') return;
    // An import rollup cannot resolve or a missing export is a build error; the
    // rest is printed (build.mjs runs rollup --silent, which hides `warn`).
    if (warning.code === 'UNRESOLVED_IMPORT' || warning.code === 'MISSING_EXPORT') {
      throw new Error(`rollup (${pkg.name}): ${warning.message}`);
    }
    console.error(`rollup (${pkg.name}) warning: ${warning.message}`);
  };
  if (!pkg.main || !pkg.main.endsWith('.node.cjs')) {
    throw new Error(`rollup: ${pkg.name} needs "main": "dist/sluice-${dir}.node.cjs" in its package.json`);
  }
  const configs = [{
    input, external: isExternal, plugins: plugins(), onwarn,
    output: {file: path.join(root, pkg.main), format: 'cjs', sourcemap: true, banner, exports: 'named'},
  }];
  if (pkg.unpkg) {
    configs.push({
      input, external: isExternal, plugins: plugins(), onwarn,
      output: {
        file: path.join(root, pkg.unpkg), format: 'umd', name: `sluice.${camel(dir)}`, extend: true,
        globals: globalName, sourcemap: true, banner, exports: 'named',
        plugins: [terser({format: {comments: /^\*\* @sluice/}})],
      },
    });
  }
  // Sub-entries (`@sluice/<dir>/<sub>`): a folder with a package.json whose `main`
  // is a .node.cjs bundle of its `module` (e.g. @sluice/interop/node). Node-only
  // code lives there, so the main entry's UMD bundle never imports node: builtins.
  for (const sub of subEntries(dir)) {
    configs.push({
      input: path.join(root, sub.dir, sub.module), external: isExternal, onwarn,
      plugins: [resolve({browser: false, preferBuiltins: true})],
      output: {file: path.join(root, sub.dir, sub.main), format: 'cjs', sourcemap: true, banner, exports: 'named'},
    });
  }
  return configs;
}

/** packages/<dir>/<sub>/package.json files with a CommonJS `main` (see configsFor). */
export function subEntries(dir) {
  const root = path.join(ROOT, 'packages', dir);
  return readdirSync(root, {withFileTypes: true})
      .filter(e => e.isDirectory() && !['src', 'dist', 'node_modules'].includes(e.name) &&
                   existsSync(path.join(root, e.name, 'package.json')))
      .map(e => ({dir: e.name, ...JSON.parse(readFileSync(path.join(root, e.name, 'package.json'), 'utf8'))}))
      .filter(p => typeof p.main === 'string' && p.main.endsWith('.node.cjs') && typeof p.module === 'string');
}

export default () => {
  const all = libraries();
  const only = process.env.SLUICE_PACKAGES ? process.env.SLUICE_PACKAGES.split(',').filter(Boolean) : all;
  const missing = only.filter(dir => !existsSync(path.join(ROOT, 'packages', dir, 'dist', 'index.js')));
  if (missing.length > 0) {
    throw new Error(`rollup: no tsc output (dist/index.js) for ${missing.join(', ')}; run \`npm run build\``);
  }
  return only.flatMap(configsFor);
};

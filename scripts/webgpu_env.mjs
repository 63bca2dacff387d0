// Environment for a Node child process that runs tfjs's webgpu backend
// through Dawn (the `webgpu` npm package). Dawn needs a Vulkan loader and a
// driver; machines without a GPU have neither, but Debian's chromium ships
// both (SwiftShader). A system Vulkan driver, when present, is left in charge.
import {spawnSync} from 'node:child_process';
import {existsSync, readdirSync} from 'node:fs';
import {createRequire} from 'node:module';

export const SWIFTSHADER_DIR = '/usr/lib/chromium';
export const SWIFTSHADER_ICD = `${SWIFTSHADER_DIR}/vk_swiftshader_icd.json`;
const SYSTEM_ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'];
const SYSTEM_LOADERS = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1',
                        '/usr/lib64/libvulkan.so.1', '/usr/lib/libvulkan.so.1'];

function hasSystemDriver() {
  return SYSTEM_ICD_DIRS.some(d => existsSync(d) && readdirSync(d).some(f => f.endsWith('.json')));
}

/**
 * Returns {env, note} for the child, or {missing: reason, requiredInCI: true}
 * when there is no Vulkan driver or Dawn offers no adapter with it (a skip
 * locally, a failure under CI).
 */
export function dawnEnv(base = process.env) {
  const found = findDriver(base);
  if (found.missing) {
    return {...found, requiredInCI: true};
  }
  const adapter = probeAdapter(found.env);
  if (adapter.missing) {
    return {missing: `${adapter.missing} (${found.note})`, requiredInCI: true};
  }
  return {env: found.env, note: `${found.note}; adapter: ${adapter.name}`};
}

/** Asks Dawn for an adapter in a child with `env` (the loader path is read at process start). */
function probeAdapter(env) {
  let webgpu;
  try {
    webgpu = createRequire(import.meta.url).resolve('webgpu');
  } catch {
    return {missing: 'the `webgpu` npm package is not installed (npm install)'};
  }
  const script = `const {create} = require(${JSON.stringify(webgpu)});
    create([]).requestAdapter().then(a => {
      console.log(a ? JSON.stringify([a.info.vendor, a.info.architecture, a.info.description].filter(Boolean).join(' / ') || 'unnamed') : 'null');
      process.exit(0);
    }, e => { console.log('null'); process.exit(0); });`;
  const r = spawnSync(process.execPath, ['-e', script], {env, encoding: 'utf8', timeout: 60_000});
  const last = (r.stdout || '').trim().split('\n').pop();
  if (r.status !== 0 || !last || last === 'null') {
    return {missing: `Dawn offers no WebGPU adapter${r.stderr ? `: ${r.stderr.trim().split('\n')[0]}` : ''}`};
  }
  return {name: JSON.parse(last)};
}

function findDriver(base) {
  const env = {...base};
  const systemLoader = SYSTEM_LOADERS.some(p => existsSync(p));
  if (base.VK_ICD_FILENAMES || (systemLoader && hasSystemDriver())) {
    return {env, note: base.VK_ICD_FILENAMES ? `VK_ICD_FILENAMES=${base.VK_ICD_FILENAMES}` : 'system Vulkan driver'};
  }
  if (!existsSync(SWIFTSHADER_ICD)) {
    return {missing: `no Vulkan driver: neither a system ICD nor ${SWIFTSHADER_ICD} (apt-get install chromium)`};
  }
  env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  if (!systemLoader) {
    // The loader is read when the process starts, so it is set for the child.
    env.LD_LIBRARY_PATH = [SWIFTSHADER_DIR, base.LD_LIBRARY_PATH].filter(Boolean).join(':');
  }
  return {env, note: `SwiftShader (${SWIFTSHADER_ICD})`};
}

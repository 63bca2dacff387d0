// `npm test`: every test part, each in its own child process with its output
// streamed live, then one closing line `N passed, N failed, N skipped`.
//
//   node scripts/test.mjs [--node-only | --browser-only] [--part <name>[,<name>...]] [--grep <substring>]
//
// An unknown --part name, or one the other flags leave out (`--part python --browser-only`), is a usage
// error (exit 2); a --grep no spec of the parts run matches counts as one failure.
//
// Parts:
//   node-*    test/node_cpu.ts (and the other Node entries in NODE_PARTS; node-cpu-bare runs without
//             tfjs's stock gradients)
//             bundled to .build/tests/*.cjs, run by scripts/run_jasmine.cjs
//   playground-e2e  scripts/playground_e2e.mjs: the browser playground trained on
//             webgl and cpu in Chromium via playwright-core (skipped with --grep)
//   python    test/python/run_tests.py (unittest) in the venv of scripts/python_env.sh:
//             safetensors files, MoE layers and the main-job model (npm run export /
//             import, torchrun DDP on 2 CPU ranks) against the Python safetensors
//             package, torch and transformers; it calls test/python/sluice_cli.ts,
//             bundled to .build/tests/sluice_cli.cjs. Without the venv it is
//             skipped (1 skipped, the reason printed), a failure when CI is set.
//   real-client  scripts/real_client.mjs: the packed tarballs installed in a
//             fresh project; every README block run (Node ESM/CJS, Chromium),
//             tsc --strict of a user program, self-contained gradients (Node
//             part; minutes of packing and installing, so with --grep it runs
//             only when named: `--part real-client [--grep <check>]`)
//   browser   test/browser_entry.ts bundled (IIFE) to .build/tests/browser.js,
//             run once by karma in headless Chromium (karma.conf.js): cpu,
//             webgl and, when the browser offers an adapter, webgpu
// Each part prints `SLUICE_COUNTS {json}`; a part that fails to bundle, crashes,
// times out or prints no counts is counted as one failure, with its name.
// Without Chromium the browser part is skipped (counted as 1 skipped) unless
// CI is set, where that is a failure. Exit status: 0 only when nothing failed.
import {spawn, spawnSync} from 'node:child_process';
import {accessSync, constants, existsSync, mkdirSync, mkdtempSync, rmSync} from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';
import {parseArgs as parseFlags} from 'node:util';

import {bundle, ROOT} from './bundle.mjs';

const require = createRequire(import.meta.url);

// Node entries. `optional` ones run when their entry file exists (backend
// packages add them); `external` modules stay out of the bundle (native
// addons); `env` gives the child's environment, or {missing: why} to skip
// ({missing, requiredInCI: true}: skip, but fail when CI is set).
const NODE_PARTS = [
  {name: 'node-cpu', entry: 'test/node_cpu.ts', out: '.build/tests/node_cpu.cjs'},
  // tfjs-core + cpu + sluice with no stock gradients registered (the ops' gradients are self-contained).
  {name: 'node-cpu-bare', entry: 'test/node_cpu_bare.ts', out: '.build/tests/node_cpu_bare.cjs'},
  {name: 'node-tensorflow', entry: 'test/node_tensorflow.ts', out: '.build/tests/node_tensorflow.cjs',
   external: ['@tensorflow/tfjs-node'], optional: true,
   env: async () => (await import('./tfjs_node_env.mjs')).tfjsNodeEnv()},
  {name: 'node-webgpu', entry: 'test/node_webgpu.ts', out: '.build/tests/node_webgpu.cjs', external: ['webgpu'],
   optional: true, env: async () => (await import('./webgpu_env.mjs')).dawnEnv()},
];
const BROWSER_PART = {name: 'browser', entry: 'test/browser_entry.ts', out: '.build/tests/browser.js'};
/** Every name --part accepts, in the order the parts run. */
const PART_NAMES = [...NODE_PARTS.map(p => p.name), 'python', 'browser', 'playground-e2e', 'real-client'];
const PART_TIMEOUT_MS = Number(process.env.SLUICE_PART_TIMEOUT_MIN || 25) * 60 * 1000;
const TMP = path.join(ROOT, '.tmp');

function usage(exitCode) {
  console.log('usage: node scripts/test.mjs [--node-only | --browser-only] [--part <name>[,<name>...]] [--grep <substring>]\n' +
              `  parts: ${PART_NAMES.join(', ')}`);
  process.exit(exitCode);
}

/** The command line through Node's util.parseArgs; an unknown flag or a missing value prints the usage. */
function parseArgs(argv) {
  let values;
  try {
    ({values} = parseFlags({args: argv, strict: true, allowPositionals: false, options: {
      'node-only': {type: 'boolean'},
      'browser-only': {type: 'boolean'},
      // Only the parts named (PART_NAMES; an unknown name, or one the other flags leave out, is an error).
      'part': {type: 'string'},
      'grep': {type: 'string'},
      'help': {type: 'boolean', short: 'h'},
    }}));
  } catch (e) {
    console.error(`scripts/test.mjs: ${e.message}`);
    usage(2);
  }
  if (values.help) usage(0);
  if (values['node-only'] && values['browser-only']) {
    console.error('scripts/test.mjs: --node-only and --browser-only exclude each other');
    usage(2);
  }
  let parts = null;
  if (values.part != null) {
    const names = values.part.split(',').map(s => s.trim());
    const unknown = names.filter(n => !PART_NAMES.includes(n));
    if (unknown.length > 0) {
      console.error(`scripts/test.mjs: --part must be a comma-separated list of ${PART_NAMES.join(', ')}; got ` +
                    `${JSON.stringify(values.part)}`);
      usage(2);
    }
    parts = new Set(names);
  }
  return {node: !values['browser-only'], browser: !values['node-only'], grep: values.grep ?? '', parts};
}

/**
 * Why a part named with --part would not run with these options (null: it runs): a contradiction of the
 * command line, so that `--part python --browser-only` is an error instead of a run of nothing.
 */
function whyNotRun(name, opts) {
  const node = [...NODE_PARTS.map(p => p.name), 'python', 'real-client'];
  if (node.includes(name) && !opts.node) return `${name} is a Node part and --browser-only leaves out the Node parts`;
  if (!node.includes(name) && !opts.browser) return `${name} is a browser part and --node-only leaves out the browser parts`;
  if (name === 'playground-e2e' && opts.grep) return 'playground-e2e has no specs to filter: it does not run with --grep';
  const part = NODE_PARTS.find(p => p.name === name);
  if (part?.optional && !existsSync(path.join(ROOT, part.entry))) return `${name} has no entry file ${part.entry}`;
  return null;
}

const seconds = since => ((Date.now() - since) / 1000).toFixed(1);

const children = new Set();
function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);  // the child and what it started (karma's Chromium)
  } catch {
    // already gone
  }
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const child of children) killGroup(child, 'SIGTERM');
    process.exit(130);
  });
}

/**
 * Runs one part, streaming its output; resolves with the SLUICE_COUNTS it
 * printed (null if none), its exit code or signal, and whether it timed out.
 */
function runChild(command, args, env) {
  return new Promise(resolve => {
    const child = spawn(command, args, {cwd: ROOT, env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe'],
                                        detached: true});
    children.add(child);
    let counts = null, pending = '', timedOut = false;
    child.stdout.on('data', chunk => {
      process.stdout.write(chunk);
      const lines = (pending + chunk.toString('utf8')).split('\n');
      pending = lines.pop();
      for (const line of lines) {
        const m = /^SLUICE_COUNTS (\{.*\})\s*$/.exec(line);
        if (m) counts = JSON.parse(m[1]);
      }
    });
    child.stderr.on('data', chunk => process.stderr.write(chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      console.log(`\n✗ no result after ${PART_TIMEOUT_MS / 60000} min: stopping it`);
      killGroup(child, 'SIGTERM');
      setTimeout(() => killGroup(child, 'SIGKILL'), 10_000).unref();
    }, PART_TIMEOUT_MS);
    child.on('error', err => console.log(`\n✗ could not start ${command}: ${err.message}`));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      const m = /^SLUICE_COUNTS (\{.*\})\s*$/.exec(pending);
      if (m) counts = JSON.parse(m[1]);
      resolve({counts, code, signal, timedOut});
    });
  });
}

/** Turns a child's outcome into counts, charging crashes and silent runs as one failure. */
function judge(name, outcome, grep) {
  const problems = [];
  let counts = outcome.counts;
  if (outcome.timedOut) problems.push(`timed out after ${PART_TIMEOUT_MS / 60000} min`);
  if (counts == null) {
    const how = outcome.signal ? `killed by ${outcome.signal}` : `exit code ${outcome.code}`;
    problems.push(`crashed or stopped without reporting its counts (${how})`);
    counts = {passed: 0, failed: 0, skipped: 0};
  } else if (outcome.code !== 0 && counts.failed === 0) {
    problems.push(`exited with ${outcome.signal ?? `code ${outcome.code}`} although no spec failed`);
  }
  if (!grep && counts.passed + counts.failed + counts.skipped === 0 && problems.length === 0) {
    problems.push('ran no specs');
  }
  if (problems.length > 0) {
    counts = {...counts, failed: counts.failed + 1};
    console.log(`\n✗ part ${name} failed: ${problems.join('; ')} (counted as 1 failure)`);
  }
  return {counts, note: problems.join('; ')};
}

async function runNodePart(part, grep) {
  const started = Date.now();
  let env = {}, envNote = '';
  if (part.env) {
    let got;
    try {
      got = await part.env();
    } catch (e) {
      got = {missing: `setting up its environment failed: ${e.message}`};
    }
    if (got.missing && got.requiredInCI && process.env.CI) {
      console.log(`\n✗ part ${part.name} failed: ${got.missing}; CI is set, so this is a failure (counted as 1 failure)`);
      return {name: part.name, counts: {passed: 0, failed: 1, skipped: 0}, seconds: seconds(started), note: got.missing};
    }
    if (got.missing) {
      console.log(`\n=== ${part.name}: SKIPPED: ${got.missing}; counted as 1 skipped.`);
      return {name: part.name, counts: {passed: 0, failed: 0, skipped: 1}, seconds: seconds(started),
              note: `skipped: ${got.missing}`};
    }
    env = got.env;
    envNote = got.note ? ` (${got.note})` : '';
  }
  console.log(`\n=== ${part.name}: bundling ${part.entry}`);
  try {
    await bundle(part.entry, part.out, 'node', part.external ?? []);
  } catch (e) {
    console.log(`\n✗ part ${part.name} failed: bundling ${part.entry} failed (counted as 1 failure)\n${e.message}`);
    return {name: part.name, counts: {passed: 0, failed: 1, skipped: 0}, seconds: seconds(started),
            note: 'bundling failed'};
  }
  console.log(`=== ${part.name}: bundled in ${seconds(started)} s; jasmine over ${part.out}${envNote}`);
  const args = [path.join(ROOT, 'scripts', 'run_jasmine.cjs'), part.out, part.name];
  if (grep) args.push(grep);
  const outcome = await runChild(process.execPath, args, env);
  return {name: part.name, ...judge(part.name, outcome, grep), seconds: seconds(started)};
}

/** The Python interop tests (see the header), in the venv scripts/python_env.sh made. */
async function runPythonPart(grep) {
  const name = 'python';
  const started = Date.now();
  const check = spawnSync('bash', [path.join(ROOT, 'scripts', 'python_env.sh'), '--check'], {encoding: 'utf8'});
  if (check.status !== 0) {
    const why = (check.stderr || check.error?.message || `python_env.sh --check exited ${check.status}`).trim();
    if (process.env.CI) {
      console.log(`\n✗ part ${name} failed: ${why}; CI is set, so this is a failure (counted as 1 failure)`);
      return {name, counts: {passed: 0, failed: 1, skipped: 0}, seconds: seconds(started), note: why};
    }
    console.log(`\n=== ${name}: SKIPPED: ${why}; counted as 1 skipped.`);
    return {name, counts: {passed: 0, failed: 0, skipped: 1}, seconds: seconds(started), note: `skipped: ${why}`};
  }
  const python = check.stdout.trim().split('\n').pop();
  const cli = '.build/tests/sluice_cli.cjs';
  console.log(`\n=== ${name}: bundling test/python/sluice_cli.ts`);
  try {
    await bundle('test/python/sluice_cli.ts', cli, 'node');
  } catch (e) {
    console.log(`\n✗ part ${name} failed: bundling test/python/sluice_cli.ts failed (counted as 1 failure)\n${e.message}`);
    return {name, counts: {passed: 0, failed: 1, skipped: 0}, seconds: seconds(started), note: 'bundling failed'};
  }
  console.log(`=== ${name}: unittest over test/python with ${python}`);
  const args = [path.join(ROOT, 'test', 'python', 'run_tests.py'), ...(grep ? ['-k', grep] : [])];
  const outcome = await runChild(python, args, {SLUICE_NODE_CLI: path.join(ROOT, cli), SLUICE_NODE: process.execPath,
                                                PYTHONDONTWRITEBYTECODE: '1', TRANSFORMERS_VERBOSITY: 'error',
                                                HF_HUB_DISABLE_PROGRESS_BARS: '1', TQDM_DISABLE: '1'});
  return {name, ...judge(name, outcome, grep), seconds: seconds(started)};
}

function chromiumPath() {
  const bin = process.env.CHROME_BIN || '/usr/bin/chromium';
  try {
    accessSync(bin, constants.X_OK);
    return {bin};
  } catch {
    return {bin, missing: true};
  }
}

async function runBrowserPart(grep) {
  const part = BROWSER_PART;
  const started = Date.now();
  const chrome = chromiumPath();
  if (chrome.missing) {
    const why = `no Chromium at ${chrome.bin} (install it with \`apt-get install -y chromium\`, or set CHROME_BIN)`;
    if (process.env.CI) {
      console.log(`\n✗ part ${part.name} failed: ${why}; CI is set, so this is a failure (counted as 1 failure)`);
      return {name: part.name, counts: {passed: 0, failed: 1, skipped: 0}, seconds: seconds(started), note: why};
    }
    console.log(`\n=== ${part.name}: SKIPPED: ${why}. The browser tests (cpu, webgl, webgpu in headless Chromium) ` +
                'did not run; counted as 1 skipped.');
    return {name: part.name, counts: {passed: 0, failed: 0, skipped: 1}, seconds: seconds(started),
            note: `skipped: ${why}`};
  }
  console.log(`\n=== ${part.name}: bundling ${part.entry}`);
  try {
    await bundle(part.entry, part.out, 'browser');
  } catch (e) {
    console.log(`\n✗ part ${part.name} failed: bundling ${part.entry} failed (counted as 1 failure)\n${e.message}`);
    return {name: part.name, counts: {passed: 0, failed: 1, skipped: 0}, seconds: seconds(started),
            note: 'bundling failed'};
  }
  console.log(`=== ${part.name}: bundled in ${seconds(started)} s; karma with ${chrome.bin}`);
  // Everything this run's karma and Chromium write goes in one folder, removed afterwards.
  mkdirSync(TMP, {recursive: true});
  const runTmp = mkdtempSync(path.join(TMP, 'karma-run-'));
  const env = {
    CHROME_BIN: chrome.bin,
    SLUICE_KARMA_BUNDLE: part.out,
    SLUICE_GREP: grep,
    SLUICE_CHROME_PROFILE: path.join(runTmp, 'chromium-profile'),
    TMPDIR: runTmp,  // karma's temp dir and Chromium's shared memory files (--disable-dev-shm-usage)
  };
  mkdirSync(env.SLUICE_CHROME_PROFILE);
  const karma = require.resolve('karma/bin/karma');
  const outcome = await runChild(process.execPath, [karma, 'start', path.join(ROOT, 'karma.conf.js')], env);
  try {
    rmSync(runTmp, {recursive: true, force: true, maxRetries: 5, retryDelay: 200});
  } catch {
    // A leftover in .tmp/ is harmless.
  }
  return {name: part.name, ...judge(part.name, outcome, grep), seconds: seconds(started)};
}

/** The playground end to end (scripts/playground_e2e.mjs): Chromium driven by playwright-core. */
async function runPlaygroundPart() {
  const name = 'playground-e2e';
  const started = Date.now();
  const chrome = chromiumPath();
  if (chrome.missing) {
    const why = `no Chromium at ${chrome.bin}`;
    if (process.env.CI) {
      console.log(`\n✗ part ${name} failed: ${why}; CI is set, so this is a failure (counted as 1 failure)`);
      return {name, counts: {passed: 0, failed: 1, skipped: 0}, seconds: seconds(started), note: why};
    }
    console.log(`\n=== ${name}: SKIPPED: ${why}; counted as 1 skipped.`);
    return {name, counts: {passed: 0, failed: 0, skipped: 1}, seconds: seconds(started), note: `skipped: ${why}`};
  }
  console.log(`\n=== ${name}: the browser playground trained on webgl and cpu in ${chrome.bin}`);
  const outcome = await runChild(process.execPath, [path.join(ROOT, 'scripts', 'playground_e2e.mjs')],
                                 {CHROME_BIN: chrome.bin});
  return {name, ...judge(name, outcome, ''), seconds: seconds(started)};
}

/** The packages as users get them (scripts/real_client.mjs): tarballs in a fresh project. */
async function runRealClientPart(grep) {
  const name = 'real-client';
  const started = Date.now();
  console.log(`\n=== ${name}: npm pack, a fresh project, every README block, tsc --strict, core-only gradients`);
  const args = [path.join(ROOT, 'scripts', 'real_client.mjs')];
  if (grep) args.push('--grep', grep);
  const outcome = await runChild(process.execPath, args, {});
  return {name, ...judge(name, outcome, grep), seconds: seconds(started)};
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const contradictions = [...(opts.parts ?? [])].map(name => whyNotRun(name, opts)).filter(Boolean);
  if (contradictions.length > 0) {
    console.error(`scripts/test.mjs: --part ${[...opts.parts].join(',')} would not run: ${contradictions.join('; ')}`);
    usage(2);
  }
  const started = Date.now();
  if (opts.grep) console.log(`only specs whose full name contains ${JSON.stringify(opts.grep)}`);
  const results = [];
  const wanted = name => opts.parts == null || opts.parts.has(name);
  if (opts.node) {
    for (const part of NODE_PARTS) {
      if (part.optional && !existsSync(path.join(ROOT, part.entry))) continue;
      if (wanted(part.name)) results.push(await runNodePart(part, opts.grep));
    }
    if (wanted('python')) results.push(await runPythonPart(opts.grep));
  }
  if (opts.browser && wanted('browser')) results.push(await runBrowserPart(opts.grep));
  if (opts.browser && !opts.grep && wanted('playground-e2e')) results.push(await runPlaygroundPart());
  // Minutes of packing and installing: with --grep only when named (`--part real-client`).
  const realClient = opts.parts != null ? opts.parts.has('real-client') : !opts.grep;
  if (opts.node && realClient) results.push(await runRealClientPart(opts.grep));

  if (results.length === 0) {
    // Cannot happen after the checks above; kept so that a run of nothing never passes.
    console.log('\n✗ no test part ran (counted as 1 failure)');
    results.push({name: '(none)', counts: {passed: 0, failed: 1, skipped: 0}, seconds: seconds(started),
                  note: 'no part ran'});
  }
  const total = {passed: 0, failed: 0, skipped: 0};
  for (const r of results) {
    for (const k of Object.keys(total)) total[k] += r.counts[k];
  }
  if (opts.grep && total.passed + total.failed + total.skipped === 0) {
    // A misspelt --grep must not look like a green run.
    console.log(`\n✗ no spec's full name contains ${JSON.stringify(opts.grep)} in the parts run (counted as 1 failure)`);
    total.failed++;
  }
  console.log('\n=== summary');
  for (const r of results) {
    const c = r.counts;
    console.log(`  ${r.name.padEnd(16)} ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped ` +
                `(${r.seconds} s)${r.note ? `  [${r.note}]` : ''}`);
  }
  console.log(`  total time ${seconds(started)} s`);
  console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
  process.exitCode = total.failed > 0 ? 1 : 0;
}

main().catch(e => {
  console.error(e);
  console.log('0 passed, 1 failed, 0 skipped');
  process.exit(1);
});

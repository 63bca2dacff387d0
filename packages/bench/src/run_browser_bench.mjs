// `npm run bench -- --op cce|moe --backend webgl [flags]` (or
// `node packages/bench/src/run_browser_bench.mjs --backend webgl ...`; the
// flags are bench_flags.ts's, as on the other backends): the benchmarks that
// need a browser, on tfjs's webgl backend. Bundles
// packages/bench/browser/<op>_browser.ts, serves it on localhost, opens it in
// headless Chromium (/usr/bin/chromium or $CHROME_BIN, a fresh profile under
// .tmp/), prints what the page posts back and writes the tables to
// <out>/<op>-webgl.md (cce-vocab-webgl.md with --vocab-sweep). cce: shapes
// default to N=4096 D=256 V=32768,131072 on a GPU; moe: N=4096 D=256 H=1024
// E=32 k=2. Both are scaled down on SwiftShader (the page prints which it used).
import {spawn, spawnSync} from 'node:child_process';
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {createServer} from 'node:http';
import {createRequire} from 'node:module';
import os from 'node:os';
import path from 'node:path';

import {bundle, ROOT} from '../../../scripts/bundle.mjs';

/**
 * The bench's flags (bench_flags.ts, the same as in Node), bundled from their
 * TypeScript source next to the page. Returns what the page and this runner
 * need: the page's query and the runner's own options.
 */
async function parseFlags(argv) {
  const file = path.join(ROOT, '.build', 'bench', 'browser', 'bench_flags.cjs');
  await bundle('packages/bench/src/bench_flags.ts', file, 'node');
  const {parseBenchArgs} = createRequire(import.meta.url)(file);
  const hasBackend = argv.some(a => a === '--backend' || a.startsWith('--backend='));
  const {flags} = parseBenchArgs(hasBackend ? argv : ['--backend', 'webgl', ...argv]);
  if (flags.backend !== 'webgl') throw new Error(`bench: this runner is for --backend webgl, got '${flags.backend}'`);
  const query = {repeats: String(flags.repeats ?? 2)};
  for (const key of ['n', 'd', 'shapes', 'h']) {
    if (flags[key] !== undefined) query[key] = String(flags[key]);
  }
  if (flags.v !== undefined) query.v = flags.v.join(',');
  if (flags['vocab-sweep']) query.sweep = '1';
  if (flags['extras-only']) query.extrasOnly = '1';
  if (flags.op === 'cce') query.extras = flags.extras;
  if (flags.op === 'moe') Object.assign(query, {e: String(flags.e), k: String(flags.k), variants: flags.variants});
  return {op: flags.op, sweep: flags['vocab-sweep'], query, out: path.resolve(ROOT, flags.out),
          timeoutMin: flags['timeout-min']};
}

async function main() {
  const opts = await parseFlags(process.argv.slice(2));
  const outDir = path.join(ROOT, '.build', 'bench', 'browser');
  const script = path.join(outDir, `${opts.op}_browser.js`);
  await bundle(`packages/bench/browser/${opts.op}_browser.ts`, script, 'browser');
  const files = {
    '/': [path.join(ROOT, 'packages/bench/browser/index.html'), 'text/html; charset=utf-8'],
    '/bench.js': [script, 'text/javascript; charset=utf-8'],
  };

  let finish;
  const done = new Promise(resolve => finish = resolve);
  const server = createServer((req, res) => {
    const route = new URL(req.url, 'http://localhost').pathname;
    if (req.method === 'POST') {
      let body = '';
      req.on('data', chunk => body += chunk);
      req.on('end', () => {
        res.writeHead(204).end();
        const value = JSON.parse(body || 'null');
        if (route === '/log') console.log(value);
        if (route === '/done') finish(value);
      });
      return;
    }
    const file = files[route];
    if (!file) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, {'content-type': file[1]}).end(readFileSync(file[0]));
  });
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
  const url = `http://localhost:${server.address().port}/?${new URLSearchParams(opts.query)}`;

  mkdirSync(path.join(ROOT, '.tmp'), {recursive: true});
  const profile = mkdtempSync(path.join(ROOT, '.tmp', 'bench-chromium-'));
  const chromium = process.env.CHROME_BIN || '/usr/bin/chromium';
  // No --use-gl/--use-angle: Chromium picks its own WebGL2 (SwiftShader without a GPU).
  const flags = ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--no-first-run', `--user-data-dir=${profile}`];
  console.log(`bench: ${chromium} ${flags.join(' ')} ${url}`);
  const browser = spawn(chromium, [...flags, url], {stdio: ['ignore', 'ignore', 'pipe']});
  let stderr = '';
  browser.stderr.on('data', chunk => stderr = (stderr + chunk).slice(-4000));
  browser.on('exit', (code, signal) => finish({error: `Chromium exited (${signal ?? `code ${code}`}) before the ` +
                                                     `benchmark finished; its last output:\n${stderr}`}));
  const timer = setTimeout(() => finish({error: `no result after ${opts.timeoutMin} min`}), opts.timeoutMin * 60_000);

  const result = await done;
  clearTimeout(timer);
  browser.removeAllListeners('exit');
  browser.kill('SIGTERM');  // the browser this script started, by its own handle
  await new Promise(resolve => {
    if (browser.exitCode != null || browser.signalCode != null) resolve();
    else browser.once('exit', resolve);
  });
  server.close();
  if (result.error) {
    console.error(`bench: ${result.error}`);
    process.exitCode = 1;
  } else {
    // The page knows its renderer; the host it runs on is named here, under each section's heading.
    const host = `Host: ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} cores), ` +
        `${Math.round(os.totalmem() / 2 ** 30)} GiB; headless ${chromiumVersion(chromium)}.`;
    const markdown = result.markdown.replace(/^(### .*\n)/gm, `$1\n${host}\n`);
    mkdirSync(opts.out, {recursive: true});
    const file = path.join(opts.out, `${opts.op}${opts.sweep ? '-vocab' : ''}-webgl.md`);
    writeFileSync(file, markdown);
    console.log(`\n${markdown}\nbench: written to ${path.relative(ROOT, file)}`);
  }
  // Chromium's helper processes may still be closing files in the profile when the browser has exited.
  try {
    rmSync(profile, {recursive: true, force: true, maxRetries: 10, retryDelay: 300});
  } catch (e) {
    console.warn(`bench: could not remove the Chromium profile ${path.relative(ROOT, profile)} (${e.code}); ` +
                 'it is under .tmp/, which git ignores');
  }
}

function chromiumVersion(binary) {
  const r = spawnSync(binary, ['--version'], {encoding: 'utf8', timeout: 30_000});
  return (r.stdout || '').trim() || 'Chromium';
}

main().catch(e => {
  console.error(e.message.startsWith('bench: ') ? e.message : `bench: ${e.message}`);
  process.exitCode = 1;
});

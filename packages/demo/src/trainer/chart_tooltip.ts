/**
 * A uPlot plugin: a tooltip box beside the cursor listing every series'
 * value at the hovered step. Shared by the playground and the trainer's report.
 */
import type uPlot from 'uplot';

export function tooltipPlugin(format: (v: number) => string): uPlot.Plugin {
  let box: HTMLDivElement;
  return {
    hooks: {
      init: u => {
        box = document.createElement('div');
        box.className = 'sluice-tooltip';
        box.style.cssText = 'position:absolute;pointer-events:none;display:none;background:#fffe;border:1px solid #999;' +
            'padding:4px 6px;font:12px system-ui,sans-serif;white-space:nowrap;z-index:10';
        u.over.appendChild(box);
        u.over.addEventListener('mouseleave', () => {
          box.style.display = 'none';
        });
      },
      setCursor: u => {
        const i = u.cursor.idx;
        if (i == null || u.cursor.left == null || u.cursor.left < 0) {
          box.style.display = 'none';
          return;
        }
        const rows = u.series.slice(1).map((s, k) => {
          const v = u.data[k + 1][i];
          return v == null ? '' : `<div><span style="color:${String(s.stroke instanceof Function ? '#333' : s.stroke)}">` +
              `■</span> ${s.label}: ${format(v)}</div>`;
        }).join('');
        box.innerHTML = `<b>${u.series[0].label} ${u.data[0][i]}</b>${rows}`;
        box.style.display = 'block';
        box.style.left = `${Math.min(u.cursor.left + 12, u.over.clientWidth - 150)}px`;
        box.style.top = `${Math.max(0, (u.cursor.top ?? 0) - 10)}px`;
      },
    },
  };
}

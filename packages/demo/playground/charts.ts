/**
 * The playground's live charts, drawn by uPlot (axes, legends, and a tooltip
 * at the cursor): the training objective and validation cross-entropy against
 * the unigram entropy, and each expert's share of the routed pairs per step.
 */
import uPlot from 'uplot';

import {tooltipPlugin} from '../src/trainer/chart_tooltip';

const COLORS = ['#36c', '#c63', '#393', '#939', '#c93', '#399', '#666', '#c36'];

interface Series {
  steps: number[];
  losses: number[];
  valSteps: number[];
  valLosses: number[];
  loads: number[][];
}

export class Charts {
  private readonly loss: uPlot;
  private readonly load: uPlot;
  private baseline = NaN;

  constructor(lossTarget: HTMLElement, loadTarget: HTMLElement, experts: number) {
    const axes = (y: string): uPlot.Axis[] => [{label: 'step'}, {label: y}];
    this.loss = new uPlot({
      width: 460, height: 240, scales: {x: {time: false}},
      series: [{label: 'step'},
               {label: 'train objective', stroke: COLORS[0], width: 1.5},
               {label: 'validation CE', stroke: COLORS[2], width: 2, points: {show: true, size: 6}, spanGaps: true},
               {label: 'unigram entropy', stroke: '#c33', dash: [6, 4]}],
      axes: axes('nats / token'),
      plugins: [tooltipPlugin(v => v.toFixed(3))],
    }, [[], [], [], []], lossTarget);
    this.load = new uPlot({
      width: 460, height: 240, scales: {x: {time: false}, y: {range: [0, 1]}},
      series: [{label: 'step'}, ...Array.from({length: experts}, (_, e) => ({
        label: `expert ${e}`, stroke: COLORS[e % COLORS.length], width: 1.2,
      }))],
      axes: axes('share of routed pairs'),
      plugins: [tooltipPlugin(v => `${(100 * v).toFixed(1)}%`)],
    }, [[], ...Array.from({length: experts}, () => [])], loadTarget);
  }

  setBaseline(unigram: number) {
    this.baseline = unigram;
  }

  update(s: Series) {
    const valAt = new Map(s.valSteps.map((step, i) => [step, s.valLosses[i]]));
    const x = [0, ...s.steps];
    this.loss.setData([x, [null as unknown as number, ...s.losses],
                       x.map(step => valAt.get(step) ?? null) as number[], x.map(() => this.baseline)]);
    const experts = s.loads[0]?.length ?? 0;
    this.load.setData([s.steps, ...Array.from({length: experts}, (_, e) => s.loads.map(l => l[e]))]);
  }
}

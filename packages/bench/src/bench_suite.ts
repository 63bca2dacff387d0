/**
 * The bench's own pieces, without running a benchmark: its flags
 * (util.parseArgs underneath) and their errors, the cce shapes and the
 * ratio table, the shapes the vocabulary sweep picks, naive's peak estimate against the peak measured on the active
 * backend, and the sweep's "does not fit" path and the matMul floor leaving
 * no tensor behind. Run by the Node cpu entry (test/node_cpu.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import {peakBytesDuring} from '@sluice/core/testing';

import {parseFlags} from './args';
import {parseBenchArgs} from './bench_flags';
import {naive} from './cce_bench';
import {cceShapes, REAL_VOCABS} from './cce_shapes';
import {measureMatMulFloor} from './matmul_floor';
import {ratioTable} from './measure';
import {naivePeakBytes} from './naive_peak';
import {median, medianInterval} from './ratio_stats';
import {benchVocabSweep, largestVocabLine, vocabSweepTable} from './vocab_sweep';

const SPEC = {
  n: {type: 'int', min: 1, help: 'tokens'},
  v: {type: 'ints', min: 1, default: [32768], help: 'vocabularies'},
  mode: {type: 'string', choices: ['a', 'b'], default: 'a', help: 'mode'},
  rate: {type: 'number', min: 0, help: 'rate'},
  fast: {type: 'boolean', help: 'fast'},
} as const;

export function describeBench() {
  describe('bench flags (util.parseArgs)', () => {
    it('types values, fills defaults and reports which flags were given', () => {
      const {values, given, help} = parseFlags(['--n', '4096', '--v=50257,262144', '--fast'], SPEC, 'prog');
      expect(values).toEqual({n: 4096, v: [50257, 262144], mode: 'a', rate: undefined, fast: true});
      expect([...given].sort()).toEqual(['fast', 'n', 'v']);
      expect(help).toBe(false);
      expect(parseFlags(['-h'], SPEC, 'prog').help).toBe(true);
    });

    it('rejects unknown flags, missing values and stray arguments', () => {
      expect(() => parseFlags(['--bogus'], SPEC, 'prog')).toThrowError(/^prog: Unknown option '--bogus'/);
      expect(() => parseFlags(['--n'], SPEC, 'prog')).toThrowError(/^prog: .*'--n <value>' argument missing/);
      expect(() => parseFlags(['4096'], SPEC, 'prog')).toThrowError(/^prog: Unexpected argument '4096'/);
      expect(() => parseFlags(['--fast=1'], SPEC, 'prog')).toThrowError(/'--fast' does not take an argument/);
    });

    it('names the flag, what it expects and what it got for a bad value', () => {
      expect(() => parseFlags(['--n', '4k'], SPEC, 'prog')).toThrowError('prog: --n must be an integer >= 1, got "4k"');
      expect(() => parseFlags(['--n', '0'], SPEC, 'prog')).toThrowError('prog: --n must be an integer >= 1, got "0"');
      expect(() => parseFlags(['--n', '1.5'], SPEC, 'prog')).toThrowError(/--n must be an integer >= 1, got "1.5"/);
      expect(() => parseFlags(['--v', '1,,2'], SPEC, 'prog'))
          .toThrowError('prog: --v must be a comma-separated list of integers (e.g. 50257,128256), got "1,,2"');
      expect(() => parseFlags(['--mode', 'c'], SPEC, 'prog')).toThrowError(`prog: --mode must be one of 'a', 'b', got "c"`);
      expect(() => parseFlags(['--rate', 'x'], SPEC, 'prog')).toThrowError('prog: --rate must be a number >= 0, got "x"');
    });

    it('keeps every flag of the bench and refuses flags of another op or backend', () => {
      const {flags} = parseBenchArgs(['--op', 'moe', '--backend', 'webgl', '--n', '64', '--h', '16', '--e', '4',
                                      '--k', '1', '--variants', 'dense,sparse', '--repeats', '3', '--out', 'x',
                                      '--timeout-min', '5']);
      expect(flags).toEqual(jasmine.objectContaining(
          {op: 'moe', backend: 'webgl', n: 64, h: 16, e: 4, k: 1, variants: 'dense,sparse', repeats: 3, out: 'x',
           'timeout-min': 5}));
      expect(parseBenchArgs(['--backend', 'webgpu', '--vocab-sweep', '--webgpu-limits', 'default']).flags)
          .toEqual(jasmine.objectContaining({op: 'cce', 'vocab-sweep': true, 'webgpu-limits': 'default'}));
      expect(() => parseBenchArgs(['--op', 'cce', '--h', '16'])).toThrowError(/^bench: --h must be left out \(it is for --op moe\)/);
      expect(() => parseBenchArgs(['--backend', 'webgl', '--mem-budget', '4']))
          .toThrowError(/--mem-budget must be left out \(it is for --op cce on --backend cpu or tensorflow\)/);
      expect(() => parseBenchArgs(['--shapes', '8x4x16', '--v', '3'])).toThrowError(/--shapes must be used without --v/);
      expect(() => parseBenchArgs(['--shapes', '8x0x16'])).toThrowError(/--shapes must be positive NxDxV/);
      expect(() => parseBenchArgs(['--op', 'moe', '--variants', 'dense,foo'])).toThrowError(/--variants must be/);
      expect(parseBenchArgs(['--extras-only', '--extras', 'maxsup,entropy']).flags)
          .toEqual(jasmine.objectContaining({'extras-only': true, extras: 'maxsup,entropy'}));
      expect(parseBenchArgs([]).flags.extras).toBe('zloss,predictions,accuracy,entropy,all,maxsup,classweights');
      expect(() => parseBenchArgs(['--extras', 'maxsup,maxSup']))
          .toThrowError(/--extras must be a comma-separated list of zloss, .*classweights, got "maxsup,maxSup"/);
      expect(() => parseBenchArgs(['--op', 'moe', '--extras', 'maxsup'])).toThrowError(/--extras must be left out/);
      expect(parseBenchArgs(['--op', 'head', '--t', '64', '--v', '512']).flags)
          .toEqual(jasmine.objectContaining({op: 'head', t: 64, v: [512]}));
      expect(() => parseBenchArgs(['--op', 'cce', '--t', '64'])).toThrowError(/--t must be left out \(it is for --op head\)/);
      expect(() => parseBenchArgs(['--op', 'head', '--backend', 'webgl']))
          .toThrowError(/^bench: --backend must be cpu, tensorflow or webgpu for --op head/);
    });
  });

  describe('bench shapes and tables', () => {
    it('resolves the cce shapes as --help says: the issue shapes on a GPU only when none of --n/--d/--v is given', () => {
      expect(cceShapes({vocabSweep: false}, 'host')).toEqual([{n: 2048, d: 128, v: 32768}]);
      expect(cceShapes({vocabSweep: false}, 'gpu')).toEqual([{n: 4096, d: 256, v: 32768}, {n: 4096, d: 256, v: 131072}]);
      expect(cceShapes({vocabSweep: false, d: 64}, 'gpu')).toEqual([{n: 2048, d: 64, v: 32768}]);
      expect(cceShapes({vocabSweep: false, n: 512}, 'software-webgpu')).toEqual([{n: 512, d: 128, v: 32768}]);
      expect(cceShapes({vocabSweep: false}, 'software-webgl').every(s => s.n === 1024)).toBe(true);
    });

    it('puts each variant\'s time and peak beside naive\'s as ratios, errors in place, n/a when naive failed', () => {
      const rows = [{variant: 'naive', m: {ms: 2000, peakBytes: 8 << 20}},
                    {variant: 'fused', m: {ms: 500, peakBytes: 1 << 20}},
                    {variant: 'broken', m: {ms: NaN, peakBytes: NaN, error: 'out of memory'}}];
      const table = ratioTable(rows, {timeHeader: 'one fit step', logitsBytes: 4 << 20, adapter: 'swiftshader'});
      expect(table.split('\n')).toEqual([
        '| variant | one fit step | time vs naive | peak memory | peak vs naive | peak / logits (N×V×4 B) | adapter |',
        '|---|---|---|---|---|---|---|',
        '| naive | 2.00 s | 1.00× | 8.0 MiB | 1/1.0 | 2.00 | swiftshader |',
        '| fused | 0.50 s | 0.25× | 1.0 MiB | 1/8.0 | 0.25 | swiftshader |',
        '| broken | failed: out of memory | | | | | swiftshader |',
      ]);
      const failedNaive = ratioTable([{variant: 'naive', m: {ms: NaN, peakBytes: NaN, error: 'texture too large'}},
                                      rows[1]], {timeHeader: 'time', logitsBytes: 4 << 20});
      expect(failedNaive.split('\n').slice(2)).toEqual(['| naive | failed: texture too large | | | | |',
                                                        '| fused | 0.50 s | n/a | 1.0 MiB | n/a | 0.25 |']);
    });

    it('brackets the median of the extras\' ratios by the ranks of the published 95% sign-test table', () => {
      // Lower ranks of the 95% order-statistic interval for the median (e.g. Conover,
      // Practical Nonparametric Statistics, table A3); the upper rank is n + 1 − lower.
      const table: Array<[number, number]> = [[6, 1], [8, 1], [9, 2], [10, 2], [12, 3], [15, 4], [17, 5], [20, 6], [25, 8], [30, 10]];
      for (const [n, lower] of table) {
        const ranks = Array.from({length: n}, (_, i) => n - i);  // given in descending order: the function sorts
        const ci = medianInterval(ranks);
        expect([n, ci.lo, ci.hi]).toEqual([n, lower, n + 1 - lower]);
        expect(ci.coverage).toBeGreaterThanOrEqual(0.95);
      }
      expect(medianInterval(Array.from({length: 10}, (_, i) => i)).coverage).toBeCloseTo(1 - 2 * 11 / 1024, 12);
      const tooFew = medianInterval([3, 1, 2, 5, 4]);
      expect([tooFew.lo, tooFew.hi, tooFew.coverage]).toEqual([1, 5, NaN]);
      expect(median([4, 1, 3])).toBe(3);
      expect(median([4, 1, 3, 2])).toBe(2.5);
      expect(() => median([])).toThrowError(/expected at least one value, got none/);
      expect(() => medianInterval([1], 1.5)).toThrowError(/expected level in \(0, 1\), got 1.5/);
    });
  });

  describe('bench vocabulary sweep', () => {
    it('puts the software GPUs\' limits inside the sweep: naive\'s logits fit at the smallest V, not at the largest', () => {
      const webgl = cceShapes({vocabSweep: true}, 'software-webgl');
      const webgpu = cceShapes({vocabSweep: true}, 'software-webgpu');
      expect(webgl.map(s => s.v)).toEqual([...REAL_VOCABS]);
      // WebGL: an unpacked [N, V] texture of at most 8192² texels (SwiftShader's maximum).
      expect(webgl[0].n * webgl[0].v).toBeLessThanOrEqual(8192 ** 2);
      expect(webgl[webgl.length - 1].n * webgl[webgl.length - 1].v).toBeGreaterThan(8192 ** 2);
      // WebGPU: one [N, V] float32 binding of at most 128 MiB (the default limit).
      expect(webgpu[0].n * webgpu[0].v * 4).toBeLessThanOrEqual(128 * 2 ** 20);
      expect(webgpu[webgpu.length - 1].n * webgpu[webgpu.length - 1].v * 4).toBeGreaterThan(128 * 2 ** 20);
      expect(cceShapes({vocabSweep: true}, 'host')).toEqual(REAL_VOCABS.map(v => ({n: 4096, d: 256, v})));
      expect(cceShapes({vocabSweep: true, n: 8, v: [5]}, 'gpu')).toEqual([{n: 8, d: 256, v: 5}]);
    });

    it('estimates naive\'s peak as tfjs measures it (within 1%)', async () => {
      // In test mode tfjs checks every custom op for new data ids, and flags its own softmaxCrossEntropy
      // (the forward keeps the one-hot's saved clone): the check is off for this spec, as outside tests.
      const isTest = tf.env().getBool('IS_TEST');
      tf.env().set('IS_TEST', false);
      try {
        await estimateAgainstMeasured();
      } finally {
        tf.env().set('IS_TEST', isTest);
      }
    });

    async function estimateAgainstMeasured() {
      for (const shape of [{n: 64, d: 8, v: 1000}, {n: 96, d: 24, v: 3001}]) {
        const e = tf.randomNormal([shape.n, shape.d]) as tf.Tensor2D;
        const c = tf.randomNormal([shape.v, shape.d]) as tf.Tensor2D;
        const labels = tf.randomUniform([shape.n], 0, shape.v, 'int32') as tf.Tensor1D;
        const {peakBytes} = await peakBytesDuring(async () => {
          const grads = naive(e, c, labels, shape.v);
          await Promise.all(grads.map(g => g.data()));
          tf.dispose(grads);
        });
        expect(Math.abs(naivePeakBytes(shape) - peakBytes) / peakBytes).toBeLessThan(0.01);
        tf.dispose([e, c, labels]);
      }
    }

    it('reports "does not fit" past the budget without running naive, runs fused and the floor, leaks nothing', async () => {
      const before = tf.memory().numTensors;
      const shape = {n: 32, d: 8, v: 500};
      const budget = {bytes: naivePeakBytes(shape) - 1, doc: 'test'};
      const log: string[] = [];
      const rows = await benchVocabSweep([shape], {repeats: 1, log: s => log.push(s), budget, floor: true});
      expect(rows.map(r => r.kind)).toEqual(['naive', 'fused', 'floor']);
      expect(rows[0].skipped).toMatch(/^does not fit: estimated peak .* > budget .* \(test\)$/);
      expect(rows[0].m).toBeUndefined();
      expect(rows[1].m!.error).toBeUndefined();
      expect(rows[1].m!.peakBytes).toBeGreaterThan(0);
      expect(rows[2].floor!.parts.every(ms => ms >= 0)).toBe(true);
      expect(vocabSweepTable(rows)).toContain('| 500 | naive (matMul + softmaxCrossEntropy) | does not fit');
      expect(largestVocabLine(rows)).toMatch(/^Largest V that ran at N=32 D=8: naive none \(not at V=500: does not fit/);
      expect(tf.memory().numTensors).toBe(before);
    });

    it('times the matMul floor without leaving a tensor behind', async () => {
      const e = tf.randomNormal([16, 4]) as tf.Tensor2D;
      const c = tf.randomNormal([40, 4]) as tf.Tensor2D;
      const before = tf.memory().numTensors;
      const floor = await measureMatMulFloor({n: 16, d: 4, v: 40}, e, c, 2);
      expect(Number.isFinite(floor.ms)).toBe(true);
      expect(floor.ms).toBeCloseTo(floor.parts[0] + floor.parts[1] + floor.parts[2], 6);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([e, c]);
    });
  });
}

// Where a test part's time goes: each spec's wall time under its suite path,
// summed per suite. Used by scripts/run_jasmine.cjs (Node parts) and
// scripts/karma_reporter.cjs (browser), which print the slowest suites and
// specs after a part's counts:
//   SLUICE_SLOWEST=<n>        how many of each to print (default 8; 0: none)
//   SLUICE_SPEC_TIMES=<dir>   also write every spec's time to <dir>/<label>.json
const fs = require('node:fs');
const path = require('node:path');

class SpecTimes {
  constructor(label) {
    this.label = label;
    /** {path: string[] (suites, then the spec), ms} */
    this.specs = [];
  }

  add(suitePath, description, ms) {
    if (Number.isFinite(ms)) this.specs.push({path: [...suitePath, description], ms});
  }

  /** Suites at depth 1 and 2 (the top-level describe and the one below: an op on an env) by summed spec time. */
  suites() {
    const sums = new Map();
    for (const {path: p, ms} of this.specs) {
      for (let depth = 1; depth <= Math.min(2, p.length - 1); ++depth) {
        const key = p.slice(0, depth).join(' > ');
        const s = sums.get(key) ?? {name: key, ms: 0, specs: 0};
        s.ms += ms;
        s.specs++;
        sums.set(key, s);
      }
    }
    return [...sums.values()].sort((a, b) => b.ms - a.ms);
  }

  /** Lines for the log: the slowest suites and specs, with their share of the summed spec time. */
  report() {
    const n = Number(process.env.SLUICE_SLOWEST ?? 8);
    const dir = process.env.SLUICE_SPEC_TIMES;
    if (dir) {
      fs.mkdirSync(dir, {recursive: true});
      fs.writeFileSync(path.join(dir, `${this.label}.json`),
                       JSON.stringify({label: this.label, specs: this.specs, suites: this.suites()}, null, 1));
    }
    if (!(n > 0) || this.specs.length === 0) return [];
    const total = this.specs.reduce((a, s) => a + s.ms, 0);
    const fmt = ms => `${(ms / 1000).toFixed(1).padStart(6)} s ${(100 * ms / total).toFixed(0).padStart(3)}%`;
    const lines = [`[${this.label}] spec time ${(total / 1000).toFixed(1)} s over ${this.specs.length} specs; slowest suites:`];
    for (const s of this.suites().slice(0, n)) lines.push(`  ${fmt(s.ms)}  ${s.name} (${s.specs} specs)`);
    lines.push(`[${this.label}] slowest specs:`);
    for (const s of [...this.specs].sort((a, b) => b.ms - a.ms).slice(0, n)) lines.push(`  ${fmt(s.ms)}  ${s.path.join(' > ')}`);
    if (dir) lines.push(`[${this.label}] every spec's time: ${path.join(dir, `${this.label}.json`)}`);
    return lines;
  }
}

module.exports = {SpecTimes};

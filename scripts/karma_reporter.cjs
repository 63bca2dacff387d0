// Karma reporter for scripts/test.mjs: prints browser console output, a dot per
// spec, each failure with its messages, and at the end the machine-readable
// `SLUICE_COUNTS {json}` line that scripts/test.mjs adds up, after the slowest
// suites and specs (scripts/spec_times.cjs).
//
// Counting: passed; failed (spec failures, plus one per browser error or
// disconnect, e.g. an error thrown while loading the bundle or in a top-level
// afterAll); skipped = pending specs (xit, pending()). Specs left out by
// --grep are "excluded" and not counted at all.

const {SpecTimes} = require('./spec_times.cjs');

const STACK_LINES = 12;

/** Keeps the message and the first stack frames (tfjs-core sets an unlimited stack depth). */
function trimStack(text) {
  const lines = text.replace(/\n+$/, '').split('\n');
  let frames = 0, kept = [], dropped = 0;
  for (const line of lines) {
    if (/^\s+at /.test(line) && ++frames > STACK_LINES) {
      dropped++;
      continue;
    }
    kept.push(line);
  }
  if (dropped) kept.push(`        ... ${dropped} more frames`);
  return kept.join('\n') + '\n';
}

function SluiceReporter(baseReporterDecorator, formatError, config) {
  baseReporterDecorator(this);

  const label = (config.client && config.client.sluiceLabel) || 'browser';
  const counts = {passed: 0, failed: 0, skipped: 0};
  const errors = [];
  let column = 0;
  const started = Date.now();
  const times = new SpecTimes(label);

  const dot = ch => {
    this.write(ch);
    if (++column % 100 === 0) this.write('\n');
  };
  const newline = () => {
    if (column % 100 !== 0) this.write('\n');
    column = 0;
  };

  this.onBrowserLog = (browser, log, type) => {
    newline();
    let text = typeof log === 'string' ? log : require('util').inspect(log);
    // karma quotes a lone string argument: 'like this'
    if (/^'[^]*'$/.test(text)) text = text.slice(1, -1);
    this.write(`[${label}] ${String(type).toUpperCase()}: ${text}\n`);
  };

  this.onBrowserError = (browser, error) => {
    counts.failed++;
    newline();
    const message = formatError(error, '    ');
    errors.push(message);
    this.write(`\n✗ [${label}] ${browser.name}: browser error (counted as 1 failure):\n${message}\n`);
  };

  this.onSpecComplete = (browser, result) => {
    const name = `${result.suite.join(' > ')} > ${result.description}`;
    if (!result.skipped) times.add(result.suite, result.description, result.time);
    if (result.skipped) {
      if (result.pending) {
        counts.skipped++;
        dot('*');
      }
      return;  // excluded by --grep (or xdescribe'd): not counted
    }
    if (result.success) {
      counts.passed++;
      dot('.');
      return;
    }
    counts.failed++;
    newline();
    let msg = `\n✗ [${label}] ${name}\n`;
    for (const log of result.log) {
      msg += trimStack(formatError(log, '    '));
    }
    this.write(msg);
  };

  let reported = false;
  this.onRunComplete = (browsers, results) => {
    if (reported) return;  // karma may signal completion twice after a browser error
    reported = true;
    newline();
    if ((results.error || results.disconnected) && errors.length === 0) {
      counts.failed++;
      this.write(`\n✗ [${label}] karma run ended with ${results.disconnected ? 'a disconnected browser' : 'an error'} ` +
                 `(exit code ${results.exitCode}); counted as 1 failure\n`);
    }
    if (browsers.length === 0) {
      counts.failed++;
      this.write(`\n✗ [${label}] no browser was captured; counted as 1 failure\n`);
    }
    for (const line of times.report()) this.write(`${line}\n`);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    this.write(`[${label}] ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped (${seconds} s)\n`);
    this.write(`SLUICE_COUNTS ${JSON.stringify(counts)}\n`);
  };

  // The base reporter's own per-spec and summary output is replaced by the above.
  this.specSuccess = () => {};
  this.specSkipped = () => {};
  this.specFailure = () => {};
}

SluiceReporter.$inject = ['baseReporterDecorator', 'formatError', 'config'];

module.exports = {'reporter:sluice': ['type', SluiceReporter]};

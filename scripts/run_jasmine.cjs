// Runs one esbuild-bundled spec file under jasmine in Node and prints a
// machine-readable count line for scripts/test.mjs to add up.
//   node scripts/run_jasmine.cjs <bundle.cjs> <label> [grep substring]
// Specs left out by the grep are not counted; pending ones count as skipped.
// Before the counts it prints the slowest suites and specs (scripts/spec_times.cjs).
const Jasmine = require('jasmine');

const {SpecTimes} = require('./spec_times.cjs');

const SPEC_TIMEOUT_MS = 5 * 60 * 1000;

async function main() {
  const [bundle, label, grep] = process.argv.slice(2);
  const runner = new Jasmine();
  runner.loadConfig({spec_files: [], random: false, stopSpecOnExpectationFailure: false});
  runner.exitOnCompletion = false;
  runner.jasmine.DEFAULT_TIMEOUT_INTERVAL = SPEC_TIMEOUT_MS;
  const counts = {passed: 0, failed: 0, skipped: 0};
  const started = Date.now();
  const times = new SpecTimes(label);
  const suitePath = [];
  runner.clearReporters();
  runner.addReporter({
    suiteStarted(result) {
      suitePath.push(result.description);
    },
    specDone(result) {
      if (result.status !== 'excluded') times.add(suitePath, result.description, result.duration);
      if (result.status === 'passed') {
        counts.passed++;
      } else if (result.status === 'failed') {
        counts.failed++;
        console.log(`\n✗ [${label}] ${result.fullName}`);
        for (const f of result.failedExpectations) {
          console.log(`    ${f.message}`);
          if (f.stack && !f.message.startsWith('Expected')) {
            console.log(f.stack.split('\n').slice(1, 6).join('\n'));
          }
        }
      } else if (result.status === 'excluded') {
        return;  // filtered out by the grep
      } else {
        counts.skipped++;
        console.log(`\n- [${label}] skipped: ${result.fullName}: ${result.pendingReason || 'no reason given'}`);
      }
      process.stdout.write(result.status === 'passed' ? '.' : result.status === 'failed' ? 'F' : '*');
    },
    suiteDone(result) {
      suitePath.pop();
      for (const f of result.failedExpectations || []) {
        counts.failed++;
        console.log(`\n✗ [${label}] in suite ${result.fullName}: ${f.message}`);
      }
    },
    jasmineDone(result) {
      // Errors outside any suite: thrown while loading the bundle, in a top-level afterAll, ...
      for (const f of result.failedExpectations || []) {
        counts.failed++;
        console.log(`\n✗ [${label}] ${f.message}`);
        if (f.stack) console.log(f.stack.split('\n').slice(1, 8).join('\n'));
      }
    },
  });
  // jasmine treats the filter as a regular expression; --grep means a plain substring.
  const filter = grep ? grep.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : undefined;
  await runner.execute([bundle], filter);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`\n${times.report().join('\n')}`);
  console.log(`\n[${label}] ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped (${seconds} s)`);
  console.log(`SLUICE_COUNTS ${JSON.stringify(counts)}`);
  process.exit(0);
}

main().catch(err => {
  console.error(err);
  console.log(`SLUICE_COUNTS ${JSON.stringify({passed: 0, failed: 1, skipped: 0})}`);
  process.exit(1);
});

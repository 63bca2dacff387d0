// Runs one esbuild-bundled spec file under jasmine in Node and prints a
// machine-readable count line for scripts/test.mjs to add up.
const Jasmine = require('jasmine');

async function main() {
  const [bundle, label] = process.argv.slice(2);
  const runner = new Jasmine();
  runner.loadConfig({spec_files: [], random: false, stopSpecOnExpectationFailure: false});
  runner.exitOnCompletion = false;
  const counts = {passed: 0, failed: 0, skipped: 0};
  const started = Date.now();
  runner.clearReporters();
  runner.addReporter({
    specDone(result) {
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
      } else {
        counts.skipped++;
        console.log(`\n- [${label}] skipped: ${result.fullName}: ${result.pendingReason || 'no reason given'}`);
      }
      process.stdout.write(result.status === 'passed' ? '.' : result.status === 'failed' ? 'F' : '*');
    },
    suiteDone(result) {
      for (const f of result.failedExpectations || []) {
        counts.failed++;
        console.log(`\n✗ [${label}] in suite ${result.fullName}: ${f.message}`);
      }
    },
  });
  await runner.execute([bundle]);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`\n[${label}] ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped (${seconds} s)`);
  console.log(`SLUICE_COUNTS ${JSON.stringify(counts)}`);
  process.exit(0);
}

main().catch(err => {
  console.error(err);
  console.log(`SLUICE_COUNTS ${JSON.stringify({passed: 0, failed: 1, skipped: 0})}`);
  process.exit(1);
});

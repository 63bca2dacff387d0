/**
 * Entry of `npm run export` and `npm run import` (scripts/run_ts.mjs bundles
 * and runs it): a usage error or bad input prints one line naming the flag or
 * the file and exits with status 2; nothing else is written then.
 */
import {UsageError} from '../trainer/corpus';
import {runCli} from './cli';

runCli(process.argv.slice(2)).then(code => process.exit(code), e => {
  if (e instanceof UsageError) {
    console.error(`error: ${e.message}`);
    process.exit(2);
  }
  console.error(e);
  process.exit(1);
});

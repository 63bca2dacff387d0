/**
 * Issue 9, parts 4 and 5: leak checks on every env, and (webgpu in Node
 * only) the limit checks. One call per test entry.
 */
import {describeLeakChecks} from './leak_suite';
import {describeWebGPULimits} from './limit_suite';

export function describeLeakAndLimitTests() {
  describeLeakChecks();
  describeWebGPULimits();
}

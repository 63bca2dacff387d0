"""Runs the Python interop tests with unittest and prints the counts line scripts/test.mjs reads.

    python test/python/run_tests.py [-k substring]
"""
import argparse
import json
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


class CountingResult(unittest.TextTestResult):
    passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        CountingResult.passed += 1

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.stream.writeln(f'- skipped: {test.id()}: {reason}')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('-k', dest='pattern', default='', help='run only tests whose id contains this substring')
    args = parser.parse_args()
    suite = unittest.defaultTestLoader.discover(HERE, pattern='test_*.py', top_level_dir=HERE)

    def flatten(s):
        for t in s:
            if isinstance(t, unittest.TestSuite):
                yield from flatten(t)
            else:
                yield t
    tests = [t for t in flatten(suite) if args.pattern in t.id()]
    started = time.time()
    result = unittest.TextTestRunner(verbosity=2, resultclass=CountingResult, stream=sys.stdout).run(
        unittest.TestSuite(tests))
    broken = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    # A failing setUpClass counts as one failure (its tests never ran).
    counts = {'passed': CountingResult.passed, 'failed': broken,
              'skipped': len(result.skipped)}
    print(f"\n[python] {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped "
          f'({time.time() - started:.1f} s)')
    print(f'SLUICE_COUNTS {json.dumps(counts)}')
    sys.exit(0 if broken == 0 else 1)


if __name__ == '__main__':
    main()

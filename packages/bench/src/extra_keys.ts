/**
 * The --extras names, in the extras table's order (cce_bench.ts maps each to
 * its options). Apart from the flags so the browser page can import them
 * without the flag parser (node:util).
 */
export const EXTRA_KEYS = ['zloss', 'predictions', 'accuracy', 'entropy', 'all', 'maxsup', 'classweights'] as const;
export type ExtraKey = typeof EXTRA_KEYS[number];

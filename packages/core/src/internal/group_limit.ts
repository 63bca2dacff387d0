/**
 * Validation of group-limited routing's two integers (DeepSeek-V3's n_group /
 * topk_group), shared by `routeTopK`'s options, the MoE layer's config and
 * the transformers config.json import, each naming the fields its own way.
 */
import {assertInteger, fail} from './errors';

export interface GroupLimit {
  numGroups: number;
  topKGroups: number;
}

/** How the caller spells the fields in its messages (`options.numGroups`, `numGroups`, `config.n_group`, ...). */
export interface GroupLimitNames {
  numGroups: string;
  topKGroups: string;
  /** The expert count, as in "a divisor of <numExperts> (8)". */
  numExperts: string;
  /** The experts chosen per token. */
  k: string;
}

/**
 * The group limit, or null when neither field is given. Throws, naming the
 * field, unless numGroups is an integer >= 1 dividing `numExperts`,
 * topKGroups an integer in [1, numGroups], and k at most the experts of the
 * kept groups (topKGroups · numExperts / numGroups).
 */
export function resolveGroupLimit(op: string, names: GroupLimitNames, numGroups: unknown, topKGroups: unknown,
                                  numExperts: number, k: number): GroupLimit|null {
  if (numGroups === undefined) {
    if (topKGroups !== undefined) {
      fail(op, names.topKGroups, `left out unless ${names.numGroups} is set`, String(topKGroups));
    }
    return null;
  }
  const groups = assertInteger(op, names.numGroups, numGroups, 1);
  if (numExperts % groups !== 0) {
    fail(op, names.numGroups, `a divisor of ${names.numExperts} (${numExperts})`, String(groups));
  }
  if (topKGroups === undefined) {
    fail(op, names.topKGroups, `an integer in [1, ${names.numGroups} = ${groups}] when ${names.numGroups} is set`,
         'undefined');
  }
  const kept = assertInteger(op, names.topKGroups, topKGroups, 1);
  if (kept > groups) fail(op, names.topKGroups, `<= ${names.numGroups} (${groups})`, String(kept));
  const keptExperts = kept * (numExperts / groups);
  if (k > keptExperts) {
    fail(op, names.k, `<= the experts in the kept groups (${names.topKGroups} · ${names.numExperts} / ` +
                      `${names.numGroups} = ${kept} · ${numExperts} / ${groups} = ${keptExperts})`, String(k));
  }
  return {numGroups: groups, topKGroups: kept};
}

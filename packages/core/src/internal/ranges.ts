/**
 * `[start, size]` pairs covering [0, total) in steps of `chunk` (the last one
 * shorter): how every kernel and composite walks a vocabulary or a token axis
 * in blocks. `chunk` must be >= 1.
 */
export function ranges(total: number, chunk: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let start = 0; start < total; start += chunk) {
    out.push([start, Math.min(chunk, total - start)]);
  }
  return out;
}

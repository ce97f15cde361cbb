// The Mann–Whitney U (Wilcoxon rank-sum) test, for timing tests: it compares ranks, not means, so a few
// requests slowed by the machine (garbage collection, another process) cannot decide the outcome.

/** Result of {@link mannWhitney}. */
export interface RankTest {
  /** U of `x`: how many (x, y) pairs have x above y (ties count one half). */
  readonly u: number;
  /**
   * Standardised U (normal approximation with the tie correction): positive when `x` tends to be
   * larger. Under "both samples come from one distribution" it is close to standard normal for
   * samples of 20 or more, so |z| > 4.42 happens with probability 1e-5.
   */
  readonly z: number;
  /** Hodges–Lehmann estimate of how much larger `x` is than `y`: the median of every difference x - y. */
  readonly shift: number;
}

/** Compares two samples by rank (two-sided; read the sign of `z` for the direction). */
export function mannWhitney(x: readonly number[], y: readonly number[]): RankTest {
  const n1 = x.length;
  const n2 = y.length;
  const all = [...x.map((v) => ({ v, fromX: true })), ...y.map((v) => ({ v, fromX: false }))].sort((a, b) => a.v - b.v);
  const n = all.length;
  let rankSumX = 0;
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && all[j + 1]!.v === all[i]!.v) j++;
    // Ranks i+1 .. j+1 are tied: each gets their mean.
    const rank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) if (all[k]!.fromX) rankSumX += rank;
    const t = j - i + 1;
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  const u = rankSumX - (n1 * (n1 + 1)) / 2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  const differences = x.flatMap((a) => y.map((b) => a - b)).sort((a, b) => a - b);
  const mid = differences.length / 2;
  const shift =
    differences.length % 2 ? differences[Math.floor(mid)]! : (differences[mid - 1]! + differences[mid]!) / 2;
  return { u, z: variance > 0 ? (u - mean) / Math.sqrt(variance) : 0, shift };
}

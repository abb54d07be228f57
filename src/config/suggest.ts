/**
 * "Did you mean" suggestions: the closest candidate by edit distance, only when it is close
 * enough to be a plausible typo.
 */

// Case and the `-`/`_` choice are the commonest slips (`response-header`, `Timeouts`): ignore them.
function fold(text: string): string {
  return text.toLowerCase().replaceAll('-', '_')
}

/** Optimal-string-alignment distance: insertions, deletions, substitutions, adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = []
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i]
    for (let j = 1; j <= b.length; j++) row.push(i === 0 ? j : 0)
    rows.push(row)
  }
  const at = (i: number, j: number): number => rows[i]?.[j] ?? Number.POSITIVE_INFINITY
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] ?? []
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, at(i - 2, j - 2) + 1)
      }
      row[j] = d
    }
  }
  return at(a.length, b.length)
}

/**
 * The candidate closest to `input`, or undefined when none is within a third of the longer
 * word's length (at least 1): `balancr` → `balancer`, but `name` suggests nothing for `x`.
 */
export function closestMatch(input: string, candidates: Iterable<string>): string | undefined {
  const folded = fold(input)
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of candidates) {
    if (candidate === input) continue
    const d = editDistance(folded, fold(candidate))
    const limit = Math.max(1, Math.floor(Math.max(input.length, candidate.length) / 3))
    if (d <= limit && d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}

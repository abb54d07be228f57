/**
 * Per-request statistics kept as plain numbers and turned into Prometheus samples only when
 * /metrics is scraped. prom-client hashes and validates the label set on every inc/observe,
 * even through a bound child; on the proxy benchmark that cost ~10 % of throughput at 64
 * connections (bench/RESULTS.md), so the hot path here is two array increments and a bucket
 * search. The objects below implement just what prom-client's Registry reads from a metric
 * (`name`, `help`, `type`, `get()`), so exposition, escaping and content types stay prom-client's.
 */

/** A histogram's cells: one count per bucket (not cumulative; summed at exposition). */
export class HistogramCells {
  readonly counts: Float64Array
  sum = 0
  count = 0
  readonly #bounds: readonly number[]

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds
    this.counts = new Float64Array(bounds.length)
  }

  observe(value: number): void {
    this.sum += value
    this.count++
    const bounds = this.#bounds
    // hot path: 15 buckets, most observations land in the first few
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        this.counts[i] = (this.counts[i] ?? 0) + 1
        return
      }
    }
  }
}

type Labels = Readonly<Record<string, string>>

interface Sample {
  readonly labels: Record<string, string | number>
  readonly value: number
  readonly metricName?: string
}

/** One exported metric whose samples are computed at scrape time by `collect`. */
export class ScrapedMetric {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'histogram'
  readonly labelNames: readonly string[]
  readonly aggregator = 'sum'
  readonly #collect: () => Sample[]

  constructor(init: {
    name: string
    help: string
    type: 'counter' | 'histogram'
    labelNames: readonly string[]
    collect: () => Sample[]
  }) {
    this.name = init.name
    this.help = init.help
    this.type = init.type
    this.labelNames = init.labelNames
    this.#collect = init.collect
  }

  get(): {
    name: string
    help: string
    type: string
    values: Sample[]
    aggregator: string
  } {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.#collect(),
      aggregator: this.aggregator,
    }
  }

  /** Statistics are monotonic for the life of the process; a registry reset changes nothing. */
  reset(): void {}
}

/** The `_bucket`, `_sum` and `_count` samples of one histogram series. */
export function histogramSamples(
  name: string,
  labels: Labels,
  cells: HistogramCells,
  bounds: readonly number[],
): Sample[] {
  const samples: Sample[] = []
  let cumulative = 0
  for (let i = 0; i < bounds.length; i++) {
    cumulative += cells.counts[i] as number
    samples.push({
      labels: { le: bounds[i] as number, ...labels },
      value: cumulative,
      metricName: `${name}_bucket`,
    })
  }
  samples.push({
    labels: { le: '+Inf', ...labels },
    value: cells.count,
    metricName: `${name}_bucket`,
  })
  samples.push({ labels: { ...labels }, value: cells.sum, metricName: `${name}_sum` })
  samples.push({ labels: { ...labels }, value: cells.count, metricName: `${name}_count` })
  return samples
}

/**
 * Every metric hitless exports is defined here: name, help, labels, buckets. Labels come from
 * config names (route, upstream), never from raw paths or header values (cardinality).
 * Per-request recording goes through `RouteRecorder` into plain counters (request-stats.ts),
 * exported at scrape time; the rare events (reloads, errors) use prom-client metrics directly.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client'
import { HistogramCells, ScrapedMetric, histogramSamples } from './request-stats.ts'

const LATENCY_BUCKETS_S = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
]

/** Methods that get their own label value; anything else is counted as OTHER. */
const KNOWN_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const

const METHOD_LABELS = [...KNOWN_METHODS, 'OTHER'] as const

/** What one route + upstream pair has served; kept across snapshots, as counters must be. */
class RouteStats {
  readonly route: string
  readonly upstream: string
  readonly counts = new Float64Array(METHOD_LABELS.length * STATUS_CLASSES.length)
  readonly duration = new HistogramCells(LATENCY_BUCKETS_S)

  constructor(route: string, upstream: string) {
    this.route = route
    this.upstream = upstream
  }
}

/** The gateway's metrics, in their own registry (a library host keeps its global one). */
/** One upstream target as the health gauge shows it. */
export interface TargetHealth {
  readonly upstream: string
  readonly target: string
  readonly available: boolean
}

/** Both versions' counts during a staged roll-out. */
export interface RolloutCounts {
  readonly canary: { readonly requests: number; readonly errors: number }
  readonly stable: { readonly requests: number; readonly errors: number }
}

export class GatewayMetrics {
  readonly registry = new Registry()
  readonly configReloads: Counter<'result'>
  readonly configInfo: Gauge<'version' | 'source' | 'revision'>
  readonly internalErrors: Counter<'where'>
  readonly ejections: Counter<'upstream' | 'target'>
  readonly rolloutEvents: Counter<'event'>
  #inFlight = 0
  #rollout: () => RolloutCounts | null = () => null
  #openConnections: () => number = () => 0
  #targets: () => readonly TargetHealth[] = () => []
  readonly #routes = new Map<string, RouteStats>()
  readonly #upstreams = new Map<string, HistogramCells>()

  constructor(opts: { readonly processMetrics?: boolean } = {}) {
    const registers = [this.registry]
    this.#defineRequestMetrics()
    this.configReloads = new Counter({
      name: 'hitless_config_reloads_total',
      help: 'Config documents applied or rejected, by result (success | failure).',
      labelNames: ['result'],
      registers,
    })
    this.configInfo = new Gauge({
      name: 'hitless_config_info',
      help: 'The config version being served, its source and (fleet mode) its etcd revision; value 1.',
      labelNames: ['version', 'source', 'revision'],
      registers,
    })
    this.ejections = new Counter({
      name: 'hitless_upstream_ejections_total',
      help: 'Targets ejected by passive outlier detection (consecutive failures).',
      labelNames: ['upstream', 'target'],
      registers,
    })
    this.rolloutEvents = new Counter({
      name: 'hitless_rollout_events_total',
      help: 'Staged roll-out steps: started, promoted, rolled_back, aborted, superseded.',
      labelNames: ['event'],
      // With --workers every worker takes every step: merged, a step counts once.
      aggregator: 'max',
      registers,
    })
    this.internalErrors = new Counter({
      name: 'hitless_internal_errors_total',
      help: 'Survivable internal surprises on the data plane (each is also logged at error).',
      labelNames: ['where'],
      registers,
    })
    this.#defineCollectedGauges(registers)
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry })
  }

  #defineRequestMetrics(): void {
    const register = (metric: ScrapedMetric): void =>
      this.registry.registerMetric(metric as unknown as Metric)
    register(
      new ScrapedMetric({
        name: 'hitless_http_requests_total',
        help: 'Requests answered, by route, upstream, method and status class.',
        type: 'counter',
        labelNames: ['route', 'upstream', 'method', 'status_class'],
        collect: () => this.#requestCounts(),
      }),
    )
    register(
      new ScrapedMetric({
        name: 'hitless_http_request_duration_seconds',
        help: 'Time from request received to response finished, by route and upstream.',
        type: 'histogram',
        labelNames: ['route', 'upstream'],
        collect: () =>
          [...this.#routes.values()]
            .filter((r) => r.duration.count > 0)
            .flatMap((r) =>
              histogramSamples(
                'hitless_http_request_duration_seconds',
                { route: r.route, upstream: r.upstream },
                r.duration,
                LATENCY_BUCKETS_S,
              ),
            ),
      }),
    )
    register(
      new ScrapedMetric({
        name: 'hitless_upstream_response_header_duration_seconds',
        help: 'Time from an upstream attempt started to its response headers, by upstream.',
        type: 'histogram',
        labelNames: ['upstream'],
        collect: () =>
          [...this.#upstreams]
            .filter(([, cells]) => cells.count > 0)
            .flatMap(([upstream, cells]) =>
              histogramSamples(
                'hitless_upstream_response_header_duration_seconds',
                { upstream },
                cells,
                LATENCY_BUCKETS_S,
              ),
            ),
      }),
    )
  }

  #requestCounts(): { labels: Record<string, string>; value: number }[] {
    const samples: { labels: Record<string, string>; value: number }[] = []
    for (const r of this.#routes.values()) {
      for (let i = 0; i < r.counts.length; i++) {
        const value = r.counts[i] as number
        if (value === 0) continue
        const method = METHOD_LABELS[Math.floor(i / STATUS_CLASSES.length)] ?? 'OTHER'
        const statusClass = STATUS_CLASSES[i % STATUS_CLASSES.length] ?? '5xx'
        const labels = { route: r.route, upstream: r.upstream, method, status_class: statusClass }
        samples.push({ labels, value })
      }
    }
    return samples
  }

  #defineCollectedGauges(registers: Registry[]): void {
    // Gauges read at scrape time from plain counters: no per-request prom-client call.
    const readInFlight = (): number => this.#inFlight
    const readConnections = (): number => this.#openConnections()
    new Gauge({
      name: 'hitless_http_requests_in_flight',
      help: 'Requests being handled right now.',
      registers,
      collect() {
        this.set(readInFlight())
      },
    })
    const readTargets = (): readonly TargetHealth[] => this.#targets()
    new Gauge({
      name: 'hitless_upstream_target_healthy',
      help: 'Whether an upstream target may receive traffic (1) or is out: unhealthy by its health checks or ejected (0).',
      labelNames: ['upstream', 'target'],
      // With --workers each worker probes on its own: merged, a target is up only if up in all.
      aggregator: 'min',
      registers,
      collect() {
        this.reset()
        for (const t of readTargets()) {
          this.set({ upstream: t.upstream, target: t.target }, t.available ? 1 : 0)
        }
      },
    })
    const readRollout = (): RolloutCounts | null => this.#rollout()
    new Gauge({
      name: 'hitless_rollout_active',
      help: 'Whether a staged roll-out (a canary beside the stable version) is running (1) or not (0).',
      aggregator: 'max',
      registers,
      collect() {
        this.set(readRollout() === null ? 0 : 1)
      },
    })
    for (const [field, name, help] of [
      [
        'requests',
        'hitless_rollout_requests',
        'Requests answered by each version of the running roll-out (role: canary | stable).',
      ],
      [
        'errors',
        'hitless_rollout_errors',
        '5xx answers of each version of the running roll-out (role: canary | stable).',
      ],
    ] as const) {
      new Gauge({
        name,
        help,
        labelNames: ['role'],
        // With --workers each worker shows the sum the supervisor shares: merged, once.
        aggregator: 'max',
        registers,
        collect() {
          this.reset()
          const counts = readRollout()
          if (counts === null) return
          this.set({ role: 'canary' }, counts.canary[field])
          this.set({ role: 'stable' }, counts.stable[field])
        },
      })
    }
    new Gauge({
      name: 'hitless_http_open_connections',
      help: 'Client connections open on the public listeners.',
      registers,
      collect() {
        this.set(readConnections())
      },
    })
  }

  requestStarted(): void {
    this.#inFlight++
  }

  requestEnded(): void {
    this.#inFlight--
  }

  get inFlight(): number {
    return this.#inFlight
  }

  /** Where the roll-out gauges read the running roll-out's counts (null: none runs). */
  setRolloutSource(source: () => RolloutCounts | null): void {
    this.#rollout = source
  }

  /** Where the target-health gauge reads the targets (the upstream registry). */
  setTargetsSource(read: () => readonly TargetHealth[]): void {
    this.#targets = read
  }

  /** Where the open-connections gauge reads its value (the server's connection tracker). */
  setOpenConnectionsSource(read: () => number): void {
    this.#openConnections = read
  }

  /** Records the config version now served; the previous version's series is removed. */
  setConfigVersion(version: string, source: string, revision = ''): void {
    this.configInfo.reset()
    this.configInfo.set({ version, source, revision }, 1)
  }

  /**
   * The recorder of one route + upstream pair; built once per snapshot. Pairs are kept for the
   * life of the process (a reload continues the same series).
   */
  recorderFor(route: string, upstream: string): RouteRecorder {
    const key = `${route}\u0000${upstream}`
    let stats = this.#routes.get(key)
    if (stats === undefined) {
      stats = new RouteStats(route, upstream)
      this.#routes.set(key, stats)
    }
    let cells = this.#upstreams.get(upstream)
    if (cells === undefined) {
      cells = new HistogramCells(LATENCY_BUCKETS_S)
      this.#upstreams.set(upstream, cells)
    }
    return new RouteRecorder(stats, cells)
  }

  /** The Prometheus exposition text. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }
}

/** Records one route's requests: an array increment and a bucket search, nothing else. */
export class RouteRecorder {
  readonly #counts: Float64Array
  readonly #duration: HistogramCells
  readonly #upstreamDuration: HistogramCells

  constructor(stats: RouteStats, upstreamDuration: HistogramCells) {
    this.#counts = stats.counts
    this.#duration = stats.duration
    this.#upstreamDuration = upstreamDuration
  }

  /** One finished request: `status` as sent (499 for a client abort counts as 4xx). */
  record(method: string, status: number, durationS: number): void {
    const m = methodIndex(method)
    const s = Math.min(Math.max(Math.floor(status / 100), 1), 5) - 1
    const i = m * STATUS_CLASSES.length + s
    this.#counts[i] = (this.#counts[i] ?? 0) + 1
    this.#duration.observe(durationS)
  }

  /** Time to an upstream's response headers for one attempt. */
  recordUpstream(durationS: number): void {
    this.#upstreamDuration.observe(durationS)
  }
}

function methodIndex(method: string): number {
  // hot path: a switch on the common methods beats indexOf on an array of strings
  switch (method) {
    case 'GET':
      return 0
    case 'HEAD':
      return 1
    case 'POST':
      return 2
    case 'PUT':
      return 3
    case 'DELETE':
      return 4
    case 'PATCH':
      return 5
    case 'OPTIONS':
      return 6
    default:
      return 7
  }
}

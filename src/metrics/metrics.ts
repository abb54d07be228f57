/**
 * Every metric hitless exports is defined here: name, help, labels, buckets. Labels come from
 * config names (route, upstream), never from raw paths or header values (cardinality).
 * Per-request recording goes through `RouteRecorder`, whose label children are made once per
 * route at snapshot build time (hot path: prom-client hashes label objects on every call).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

const LATENCY_BUCKETS_S = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
]

/** Methods that get their own label value; anything else is counted as OTHER. */
const KNOWN_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const

type RequestLabels = 'route' | 'upstream' | 'method' | 'status_class'

/** The gateway's metrics, in their own registry (a library host keeps its global one). */
export class GatewayMetrics {
  readonly registry = new Registry()
  readonly requests: Counter<RequestLabels>
  readonly requestDuration: Histogram<'route' | 'upstream'>
  readonly upstreamDuration: Histogram<'upstream'>
  readonly configReloads: Counter<'result'>
  readonly configInfo: Gauge<'version' | 'source'>
  readonly internalErrors: Counter<'where'>
  #inFlight = 0
  #openConnections: () => number = () => 0

  constructor(opts: { readonly processMetrics?: boolean } = {}) {
    const registers = [this.registry]
    this.requests = new Counter({
      name: 'hitless_http_requests_total',
      help: 'Requests answered, by route, upstream, method and status class.',
      labelNames: ['route', 'upstream', 'method', 'status_class'],
      registers,
    })
    this.requestDuration = new Histogram({
      name: 'hitless_http_request_duration_seconds',
      help: 'Time from request received to response finished, by route and upstream.',
      labelNames: ['route', 'upstream'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    })
    this.upstreamDuration = new Histogram({
      name: 'hitless_upstream_response_header_duration_seconds',
      help: 'Time from an upstream attempt started to its response headers, by upstream.',
      labelNames: ['upstream'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    })
    this.configReloads = new Counter({
      name: 'hitless_config_reloads_total',
      help: 'Config documents applied or rejected, by result (success | failure).',
      labelNames: ['result'],
      registers,
    })
    this.configInfo = new Gauge({
      name: 'hitless_config_info',
      help: 'The config version being served (value is always 1).',
      labelNames: ['version', 'source'],
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

  /** Where the open-connections gauge reads its value (the server's connection tracker). */
  setOpenConnectionsSource(read: () => number): void {
    this.#openConnections = read
  }

  /** Records the config version now served; the previous version's series is removed. */
  setConfigVersion(version: string, source: string): void {
    this.configInfo.reset()
    this.configInfo.set({ version, source }, 1)
  }

  /** A recorder for one route + upstream pair; build it once per snapshot. */
  recorderFor(route: string, upstream: string): RouteRecorder {
    return new RouteRecorder(this, route, upstream)
  }

  /** The Prometheus exposition text. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }
}

type IncChild = { inc(value?: number): void }
type ObserveChild = { observe(value: number): void }

/** Pre-bound label children for one route: recording a request is two array lookups. */
export class RouteRecorder {
  readonly #metrics: GatewayMetrics
  readonly #route: string
  readonly #upstream: string
  // Filled on first use: a 10,000-route config must not create 400,000 children up front.
  readonly #counts: (IncChild | undefined)[] = []
  readonly #duration: ObserveChild
  readonly #upstreamDuration: ObserveChild

  constructor(metrics: GatewayMetrics, route: string, upstream: string) {
    this.#metrics = metrics
    this.#route = route
    this.#upstream = upstream
    this.#duration = metrics.requestDuration.labels(route, upstream)
    this.#upstreamDuration = metrics.upstreamDuration.labels(upstream)
  }

  /** One finished request: `status` as sent (499 for a client abort counts as 4xx). */
  record(method: string, status: number, durationS: number): void {
    const m = methodIndex(method)
    const s = Math.min(Math.max(Math.floor(status / 100), 1), 5) - 1
    const i = m * STATUS_CLASSES.length + s
    const child = this.#counts[i] ?? this.#child(m, s, i)
    child.inc()
    this.#duration.observe(durationS)
  }

  #child(m: number, s: number, i: number): IncChild {
    const method = KNOWN_METHODS[m] ?? 'OTHER'
    const statusClass = STATUS_CLASSES[s] ?? '5xx'
    const child = this.#metrics.requests.labels(this.#route, this.#upstream, method, statusClass)
    this.#counts[i] = child
    return child
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

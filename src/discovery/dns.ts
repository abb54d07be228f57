/**
 * DNS discovery (`discovery: { dns: { name, port, interval, servers } }`): the A and AAAA
 * records of `name` are the targets, each `http://address:port`, weight 1, resolved again every
 * `interval`. Without `servers` the system resolver answers (getaddrinfo, so /etc/hosts counts,
 * as for any other program on the machine); with `servers` those name servers are asked directly
 * (nginx's `resolver`), A and AAAA both. A failed or empty resolution keeps the last good set and
 * is retried sooner (1 s, doubling up to `interval`) until one succeeds.
 */
import { lookup, Resolver } from 'node:dns/promises'
import { BaseSource, type DiscoveredTarget, type SourceEvents } from './source.ts'

export interface DnsSettings {
  readonly name: string
  readonly port: number
  readonly intervalMs: number
  /** Name servers (`ip` or `ip:port`) to ask; null for the system resolver. */
  readonly servers: readonly string[] | null
}

/** First retry after a failure; doubles up to the interval. */
const RETRY_MS = 1000
/** Per-query timeout of the direct resolver, and its tries per server. */
const QUERY_TIMEOUT_MS = 2000
const QUERY_TRIES = 2

export class DnsSource extends BaseSource {
  readonly description: string
  readonly #settings: DnsSettings
  readonly #resolver: Resolver | null
  #timer: NodeJS.Timeout | null = null
  #retryMs = RETRY_MS

  constructor(settings: DnsSettings, events: SourceEvents) {
    super(events)
    this.#settings = settings
    this.description = `dns ${settings.name}:${settings.port}`
    if (settings.servers === null) {
      this.#resolver = null
    } else {
      this.#resolver = new Resolver({ timeout: QUERY_TIMEOUT_MS, tries: QUERY_TRIES })
      this.#resolver.setServers([...settings.servers])
    }
    void this.#resolve()
  }

  close(): void {
    this.closed = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    this.#resolver?.cancel()
  }

  /** A call, so that it is read afresh after every await. */
  #isClosed(): boolean {
    return this.closed
  }

  async #resolve(): Promise<void> {
    let delayMs = this.#settings.intervalMs
    try {
      const addresses = await this.#addresses()
      if (this.#isClosed()) return
      if (addresses.length === 0) throw new Error('no A or AAAA records')
      this.#retryMs = RETRY_MS
      this.publish(addresses.map((a) => this.#target(a)))
    } catch (err) {
      if (this.#isClosed()) return
      this.problem(`cannot resolve ${this.#settings.name}: ${messageOf(err)}`)
      delayMs = Math.min(this.#retryMs, delayMs)
      this.#retryMs = Math.min(this.#retryMs * 2, this.#settings.intervalMs)
    }
    // close() may have come meanwhile (from a listener of the answer just published).
    if (this.#isClosed()) return
    this.#timer = setTimeout(() => void this.#resolve(), delayMs)
    // A resolution timer never keeps the process alive by itself.
    this.#timer.unref()
  }

  async #addresses(): Promise<string[]> {
    const name = this.#settings.name
    if (this.#resolver === null) {
      const found = await lookup(name, { all: true, verbatim: true })
      return [...new Set(found.map((f) => f.address))]
    }
    const [v4, v6] = await Promise.allSettled([
      this.#resolver.resolve4(name),
      this.#resolver.resolve6(name),
    ])
    // "No records of this type" is an answer; any other failure makes the whole answer unsure,
    // and half a set must not replace the last good one.
    for (const r of [v4, v6]) if (r.status === 'rejected' && !isNoData(r.reason)) throw r.reason
    return [v4, v6].flatMap((r) => (r.status === 'fulfilled' ? r.value : []))
  }

  #target(address: string): DiscoveredTarget {
    const host = address.includes(':') ? `[${address}]` : address
    return { origin: `http://${host}:${this.#settings.port}`, weight: 1 }
  }
}

function isNoData(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === 'ENODATA' || code === 'ENOTFOUND'
}

function messageOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  const message = err instanceof Error ? err.message : String(err)
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message
}

/**
 * Active health checks (SPEC §3, `health_check` of an upstream): every `interval`, one GET of
 * `path` on the target over a connection of its own (so a probe never waits behind, nor takes
 * a slot from, proxied requests). A 2xx answer within `timeout` is a pass; anything else
 * (another status, a timeout, a refused or reset connection) a failure. `unhealthy_threshold`
 * failures in a row take the target out; `healthy_threshold` passes in a row bring it back.
 * The checker belongs to the target's state in the registry, so it and what it found outlive
 * reloads that keep the target.
 */
import { Client } from 'undici'
import type { TargetState } from './target-state.ts'

/** The `health_check` settings (repeated structurally: upstream imports nothing of config). */
export interface HealthCheckSettings {
  readonly path: string
  readonly intervalMs: number
  readonly timeoutMs: number
  readonly healthyThreshold: number
  readonly unhealthyThreshold: number
}

/** Told of every change of a target's health, with the reason of the last probe. */
export type HealthTransition = (state: TargetState, healthy: boolean, reason: string) => void

/** What the last probe found, for GET /upstreams. */
export interface LastCheck {
  readonly at: string
  readonly ok: boolean
  readonly detail: string
}

export class HealthChecker {
  readonly #state: TargetState
  readonly #onTransition: HealthTransition
  #settings: HealthCheckSettings
  #client: Client
  #timer: NodeJS.Timeout | null = null
  #running = false
  #stopped = false
  #passes = 0
  #failures = 0
  last: LastCheck | null = null

  constructor(state: TargetState, settings: HealthCheckSettings, onTransition: HealthTransition) {
    this.#state = state
    this.#settings = settings
    this.#onTransition = onTransition
    this.#client = newClient(state.origin, settings)
    this.#schedule()
  }

  get settings(): HealthCheckSettings {
    return this.#settings
  }

  /** New settings from a reload: the next probe uses them; passes and failures carry on. */
  update(settings: HealthCheckSettings): void {
    if (sameSettings(settings, this.#settings)) return
    const old = this.#client
    this.#settings = settings
    this.#client = newClient(this.#state.origin, settings)
    void old.close().catch(() => undefined)
    this.#schedule()
  }

  /** Stops probing (the target left the config, or health checks were turned off). */
  stop(): void {
    this.#stopped = true
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    void this.#client.destroy().catch(() => undefined)
  }

  #schedule(): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = setInterval(() => void this.#probe(), this.#settings.intervalMs)
    this.#timer.unref()
    // The first probe right away: a target that is down is found within one timeout.
    void this.#probe()
  }

  async #probe(): Promise<void> {
    if (this.#running) return
    this.#running = true
    const { path, timeoutMs } = this.#settings
    let ok = false
    let detail: string
    try {
      const res = await this.#client.request({
        path,
        method: 'GET',
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      })
      await res.body.dump()
      ok = res.statusCode >= 200 && res.statusCode < 300
      detail = `status ${res.statusCode}`
    } catch (err) {
      const code = (err as { code?: unknown }).code
      detail = typeof code === 'string' ? code : (err as Error).message
    } finally {
      this.#running = false
    }
    // A probe cut short by stop() says nothing about the target any more.
    if (this.#stopped) return
    this.last = { at: new Date().toISOString(), ok, detail }
    this.#record(ok, detail)
  }

  #record(ok: boolean, detail: string): void {
    const state = this.#state
    if (ok) {
      this.#failures = 0
      this.#passes++
      if (!state.healthy && this.#passes >= this.#settings.healthyThreshold) {
        state.healthy = true
        this.#onTransition(state, true, detail)
      }
    } else {
      this.#passes = 0
      this.#failures++
      if (state.healthy && this.#failures >= this.#settings.unhealthyThreshold) {
        state.healthy = false
        this.#onTransition(state, false, detail)
      }
    }
  }
}

function newClient(origin: string, settings: HealthCheckSettings): Client {
  return new Client(origin, {
    pipelining: 1,
    connect: { timeout: settings.timeoutMs },
    keepAliveTimeout: Math.max(settings.intervalMs * 2, 1000),
  })
}

function sameSettings(a: HealthCheckSettings, b: HealthCheckSettings): boolean {
  return (
    a.path === b.path &&
    a.intervalMs === b.intervalMs &&
    a.timeoutMs === b.timeoutMs &&
    a.healthyThreshold === b.healthyThreshold &&
    a.unhealthyThreshold === b.unhealthyThreshold
  )
}

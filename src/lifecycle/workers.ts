/**
 * `--workers N` (SPEC §5): N worker processes serve one set of listening sockets. The
 * supervisor holds the sockets (bound, never accepting itself) and hands them to each worker as
 * inherited descriptors; every worker accepts on them and the kernel spreads the connections.
 * The supervisor gives every worker the same document, relays reloads (file, SIGHUP, a worker's
 * admin API) to all of them, replaces a worker that dies, and merges their metrics.
 *
 * Why not node:cluster: its default (round-robin) has the primary accept every connection and
 * pass it over IPC, a cost per connection in one process; its shared-handle mode keeps the
 * sockets in internals that cannot be handed to a new supervisor on a hot upgrade. Inherited
 * descriptors are the same mechanism as the upgrade itself (and as systemd's), so one path
 * serves all three.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { Logger } from '../log/logger.ts'
import { INHERITED_FDS_ENV, type InheritedSocket } from '../server/inherited.ts'
import type { ReloadResult, ReloadSource } from './reload.ts'
import type { RolloutCounts } from '../metrics/metrics.ts'
import type { RolloutEnd, RolloutResult } from './rollout.ts'
import type { UpgradeCommand } from './upgrade.ts'

/** Set in a worker's environment: its index (0-based) among the workers. */
export const WORKER_ENV = 'HITLESS_WORKER'

// The first inherited descriptor: 0–2 are stdio and 3 is the IPC channel.
const FIRST_FD = 4
/** A worker that dies sooner than this after its start is restarted only after this delay. */
const RESTART_BACKOFF_MS = 1_000
/** How long a worker has to answer a relayed reload, rollback or metrics question. */
const ANSWER_TIMEOUT_MS = 30_000

/** Messages from the supervisor to a worker. */
export type ToWorker =
  | { readonly hitless: 'init'; readonly text: string; readonly path: string }
  | {
      readonly hitless: 'apply'
      readonly id: number
      readonly text: string
      readonly source: ReloadSource
    }
  | { readonly hitless: 'rollback'; readonly id: number; readonly version: string }
  | { readonly hitless: 'metrics'; readonly id: number }
  | { readonly hitless: 'stop-accepting'; readonly id: number }
  | { readonly hitless: 'answer'; readonly id: number; readonly answer: unknown }
  | {
      readonly hitless: 'rollout'
      readonly id: number
      readonly version: string
      readonly outcome: Exclude<RolloutEnd, 'superseded'>
      readonly reason: string
    }
  | { readonly hitless: 'rollout-counts'; readonly version: string; readonly counts: RolloutCounts }

/** Messages from a worker to the supervisor. */
export type FromWorker =
  | { readonly hitless: 'ready'; readonly pid: number; readonly configVersion: string | null }
  | { readonly hitless: 'done'; readonly id: number; readonly answer: unknown }
  | {
      readonly hitless: 'ask'
      readonly id: number
      readonly what: 'reload' | 'rollback' | 'metrics' | 'rollout-end'
      readonly text?: string
      readonly version?: string
      readonly action?: 'promote' | 'abort'
    }
  | { readonly hitless: 'rollout-counts'; readonly version: string; readonly counts: RolloutCounts }

/** What the supervisor answers a worker's admin API with. */
export interface WorkerQuestions {
  reload(text: string | undefined): Promise<ReloadResult>
  rollback(version: string): Promise<ReloadResult | null>
  metrics(): Promise<{ body: string; contentType: string }>
  /** POST /rollout/promote | abort at a worker: decided for every worker. */
  endRollout(action: 'promote' | 'abort'): Promise<RolloutResult | null>
  /** A worker's own counts of the running canary `version`. */
  rolloutCounts(worker: number, version: string, counts: RolloutCounts): void
}

export interface WorkerPoolOptions {
  readonly count: number
  readonly sockets: readonly InheritedSocket[]
  /** The command of a worker (this program's, with `--workers` left out). */
  readonly command: UpgradeCommand
  /** The document every worker serves now (a new or replaced worker starts on it). */
  readonly document: () => { readonly text: string; readonly path: string }
  readonly readyTimeoutMs: number
  readonly logger: Logger
  readonly questions: WorkerQuestions
  /** A worker started to replace one that died is ready (it serves `document()`). */
  readonly replaced?: (index: number) => void
}

interface Worker {
  readonly index: number
  readonly child: ChildProcess
  readonly startedAt: number
  /** Started to replace one that died (its failures are retried, not fatal). */
  readonly replacement: boolean
  ready: boolean
}

export class WorkerPool {
  readonly #options: WorkerPoolOptions
  readonly #workers = new Map<number, Worker>()
  readonly #pending = new Map<number, (answer: unknown) => void>()
  readonly #terminated = new WeakSet<ChildProcess>()
  #nextId = 1
  #stopping = false

  constructor(options: WorkerPoolOptions) {
    this.#options = options
  }

  get pids(): number[] {
    return [...this.#workers.values()].flatMap((w) =>
      w.child.pid === undefined ? [] : [w.child.pid],
    )
  }

  /** Starts every worker; resolves when all are ready, rejects (after stopping them) if one is not. */
  async start(): Promise<void> {
    const starting = Array.from({ length: this.#options.count }, (_, i) => this.#spawn(i, false))
    const results = await Promise.allSettled(starting)
    for (const r of results) {
      if (r.status === 'fulfilled') continue
      this.#stopping = true
      await this.stop()
      throw r.reason
    }
  }

  /** Sends `text` to every worker to apply; resolves with each worker's result. */
  async apply(text: string, source: ReloadSource): Promise<ReloadResult[]> {
    return this.#askAll((id) => ({ hitless: 'apply', id, text, source })) as Promise<ReloadResult[]>
  }

  /** Sends `text` to worker `index` alone (one that joined late); resolves with its result. */
  async applyTo(index: number, text: string, source: ReloadSource): Promise<ReloadResult[]> {
    const worker = this.#workers.get(index)
    if (worker === undefined) return []
    return this.#ask([worker], (id) => ({ hitless: 'apply', id, text, source })) as Promise<
      ReloadResult[]
    >
  }

  async rollback(version: string): Promise<(ReloadResult | null)[]> {
    return this.#askAll((id) => ({ hitless: 'rollback', id, version })) as Promise<
      (ReloadResult | null)[]
    >
  }

  /** Every ready worker's metrics, as prom-client's JSON (for AggregatorRegistry.aggregate). */
  async metrics(): Promise<object[]> {
    return this.#askAll((id) => ({ hitless: 'metrics', id })) as Promise<object[]>
  }

  /** Every worker ends canary `version` the same way; resolves with each worker's result. */
  async decideRollout(
    version: string,
    outcome: Exclude<RolloutEnd, 'superseded'>,
    reason: string,
  ): Promise<(RolloutResult | null)[]> {
    return this.#askAll((id) => ({ hitless: 'rollout', id, version, outcome, reason })) as Promise<
      (RolloutResult | null)[]
    >
  }

  /** Tells every worker the summed counts of canary `version` (no answer). */
  shareRollout(version: string, counts: RolloutCounts): void {
    for (const w of this.#workers.values()) {
      if (!w.ready || !w.child.connected) continue
      w.child.send(
        { hitless: 'rollout-counts', version, counts } satisfies ToWorker,
        () => undefined,
      )
    }
  }

  /** Every worker stops accepting (a hot upgrade's new workers take over); resolves when done. */
  async stopAccepting(): Promise<void> {
    await this.#askAll((id) => ({ hitless: 'stop-accepting', id }))
  }

  /** SIGTERM to every worker (each drains), then waits for all of them to exit. */
  async stop(): Promise<void> {
    this.#stopping = true
    const exits = [...this.#workers.values()].map((w) => this.#terminate(w.child))
    await Promise.all(exits)
  }

  /** Stops at once (a second signal). */
  kill(): void {
    this.#stopping = true
    for (const w of this.#workers.values()) w.child.kill('SIGKILL')
  }

  #askAll(message: (id: number) => ToWorker): Promise<unknown[]> {
    return this.#ask([...this.#workers.values()], message)
  }

  async #ask(workers: readonly Worker[], message: (id: number) => ToWorker): Promise<unknown[]> {
    const asked = workers.filter((w) => w.ready && w.child.connected)
    return Promise.all(
      asked.map((w) => {
        const id = this.#nextId++
        return new Promise<unknown>((resolve) => {
          // A worker that exits, or does not answer in time, answers nothing: left out.
          const done = (answer: unknown): void => {
            clearTimeout(timer)
            w.child.off('exit', onExit)
            this.#pending.delete(id)
            resolve(answer)
          }
          const onExit = (): void => done(undefined)
          const timer = setTimeout(() => {
            this.#options.logger.warn({ worker: w.index }, 'a worker did not answer in time')
            done(undefined)
          }, ANSWER_TIMEOUT_MS)
          this.#pending.set(id, done)
          w.child.once('exit', onExit)
          w.child.send(message(id), (err) => {
            if (err !== null) done(undefined)
          })
        })
      }),
    ).then((answers) => answers.filter((a) => a !== undefined))
  }

  #spawn(index: number, replacement: boolean): Promise<void> {
    const { command, sockets, logger } = this.#options
    const handed = sockets.map((s, i) => ({ fd: FIRST_FD + i, key: s.key }))
    const child = spawn(command.execPath, command.args, {
      stdio: ['inherit', 'inherit', 'inherit', 'ipc', ...sockets.map((s) => s.fd)],
      env: {
        ...command.env,
        [INHERITED_FDS_ENV]: JSON.stringify(handed),
        [WORKER_ENV]: String(index),
      },
      // Its own process group: a terminal's Ctrl-C reaches the supervisor, which stops the
      // workers once, instead of every worker at the same time as the supervisor's SIGTERM.
      detached: true,
    })
    const worker: Worker = { index, child, startedAt: Date.now(), replacement, ready: false }
    // A send to a worker that just died, or a failed spawn: reported by its exit, not thrown.
    child.on('error', (err) =>
      logger.warn({ worker: index, err: err.message }, 'worker process error'),
    )
    this.#workers.set(index, worker)
    child.on('message', (msg: FromWorker) => this.#onMessage(worker, msg))
    const { text, path } = this.#options.document()
    child.send({ hitless: 'init', text, path } satisfies ToWorker, () => undefined)
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`worker ${index} was not ready within ${this.#options.readyTimeoutMs} ms`))
      }, this.#options.readyTimeoutMs)
      const onReady = (msg: FromWorker): void => {
        if (msg.hitless !== 'ready') return
        clearTimeout(timer)
        child.off('message', onReady)
        worker.ready = true
        logger.info(
          { worker: index, worker_pid: msg.pid, config_version: msg.configVersion },
          'worker ready',
        )
        if (replacement) this.#options.replaced?.(index)
        resolve()
      }
      child.on('message', onReady)
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        child.off('message', onReady)
        if (!worker.ready) {
          const how = signal === null ? `exit code ${String(code)}` : `signal ${signal}`
          reject(new Error(`worker ${index} exited (${how}) before it was ready`))
        }
        this.#onExit(worker, code, signal)
      })
    })
  }

  #onMessage(worker: Worker, msg: FromWorker): void {
    if (msg.hitless === 'done') {
      const resolve = this.#pending.get(msg.id)
      this.#pending.delete(msg.id)
      resolve?.(msg.answer)
      return
    }
    const { questions } = this.#options
    if (msg.hitless === 'rollout-counts') {
      questions.rolloutCounts(worker.index, msg.version, msg.counts)
      return
    }
    if (msg.hitless !== 'ask') return
    const asked: Promise<unknown> =
      msg.what === 'reload'
        ? questions.reload(msg.text)
        : msg.what === 'rollback'
          ? questions.rollback(msg.version ?? '')
          : msg.what === 'rollout-end'
            ? questions.endRollout(msg.action ?? 'abort')
            : questions.metrics()
    void asked.then(
      (answer) => {
        if (worker.child.connected)
          worker.child.send(
            { hitless: 'answer', id: msg.id, answer } satisfies ToWorker,
            () => undefined,
          )
      },
      (err: unknown) => {
        this.#options.logger.error({ err }, 'answering a worker failed')
        if (worker.child.connected) {
          worker.child.send(
            { hitless: 'answer', id: msg.id, answer: null } satisfies ToWorker,
            () => undefined,
          )
        }
      },
    )
  }

  #onExit(worker: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#workers.get(worker.index) === worker) this.#workers.delete(worker.index)
    // A worker of the first start that fails fails the start; any other is replaced.
    if (this.#stopping || (!worker.ready && !worker.replacement)) return
    const lived = Date.now() - worker.startedAt
    const delay = lived < RESTART_BACKOFF_MS ? RESTART_BACKOFF_MS : 0
    this.#options.logger.error(
      { worker: worker.index, worker_pid: worker.child.pid, code, signal, restart_in_ms: delay },
      'worker died: starting a replacement',
    )
    setTimeout(() => {
      if (this.#stopping) return
      // A replacement that fails exits, and its exit schedules the next attempt.
      this.#spawn(worker.index, true).catch(() => undefined)
    }, delay)
  }

  async #terminate(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    // Once: a second SIGTERM would make the worker stop at once instead of draining.
    if (!this.#terminated.has(child)) {
      this.#terminated.add(child)
      child.kill('SIGTERM')
    }
    await exited
  }
}

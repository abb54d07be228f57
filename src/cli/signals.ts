/**
 * The signal loop shared by `hitless run` (one process) and its `--workers` supervisor: SIGHUP
 * reloads, SIGUSR2 hot-upgrades (a new process takes the sockets over, then this one drains),
 * SIGTERM/SIGINT drain and exit 0, a second one exits 1 at once. What reloading, handing over
 * and draining mean is the caller's.
 */
import { writePidFile } from '../lifecycle/pid-file.ts'
import { Upgrader, type HandedState } from '../lifecycle/upgrade.ts'
import { flushLogger, type Logger } from '../log/logger.ts'
import type { InheritedSocket } from '../server/inherited.ts'
import type { RunOptions } from './run.ts'

const SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR2']

/**
 * Installed first thing, before the gateway starts: from then on no signal can kill the process
 * by its default action (SIGHUP and SIGUSR2 terminate a Node process that has no handler). The
 * ones that arrive while it starts are kept and handled in order once it serves: a SIGTERM then
 * drains it instead of cutting the connections it had already accepted.
 */
export class EarlySignals {
  #pending: NodeJS.Signals[] = []
  #handler: ((signal: NodeJS.Signals) => void) | null = null
  #onStop: () => void = () => undefined
  /** Resolves when a stop signal arrives before the handlers are attached. */
  readonly stopped = new Promise<void>((resolve) => (this.#onStop = resolve))
  readonly #on = (signal: NodeJS.Signals): void => {
    if (this.#handler !== null) {
      this.#handler(signal)
      return
    }
    this.#pending.push(signal)
    if (signal === 'SIGTERM' || signal === 'SIGINT') this.#onStop()
  }

  constructor() {
    for (const signal of SIGNALS) process.on(signal, this.#on)
  }

  /** True when a stop signal came before the process served (it then exits after starting). */
  get stopRequested(): boolean {
    return this.#pending.includes('SIGTERM') || this.#pending.includes('SIGINT')
  }

  /** Signals received and not yet handled (before `attach`). */
  get pending(): readonly NodeJS.Signals[] {
    return this.#pending
  }

  /** Removes the handlers (for a host that goes on without this process's signal handling). */
  dispose(): void {
    for (const signal of SIGNALS) process.off(signal, this.#on)
  }

  /** From now on `handler` gets every signal, starting with those that came early. */
  attach(handler: (signal: NodeJS.Signals) => void): void {
    this.#handler = handler
    const pending = this.#pending
    this.#pending = []
    for (const signal of pending) handler(signal)
  }
}

export interface SignalLoop {
  /** The handlers installed when the process began. */
  readonly signals: EarlySignals
  readonly logger: Logger
  readonly opts: RunOptions
  /** The sockets a hot upgrade hands over. */
  readonly sockets: () => InheritedSocket[]
  /** Once the new process is ready, before it takes over: stop accepting. */
  readonly handOver: () => void | Promise<void>
  /** SIGHUP. */
  readonly reload: () => void
  /** Graceful stop; resolves with the exit code. */
  readonly drain: () => Promise<number>
  /** A second stop signal, just before exiting 1. */
  readonly hardStop?: () => void
  /** Set once a new process has taken over (this one then leaves the pid file to it). */
  readonly state: { handedOver: boolean }
  /** What a hot upgrade's new process should start from (see HandedState). */
  readonly handedState?: () => HandedState | null
}

/** Installs the handlers; resolves with the exit code once stopped or handed over and drained. */
export function serveUntilSignalled(loop: SignalLoop): Promise<number> {
  const { logger, opts } = loop
  const upgrader = new Upgrader({
    sockets: loop.sockets,
    timeoutMs: opts.upgradeTimeoutMs,
    handOver: loop.handOver,
    ...(loop.handedState === undefined ? {} : { handedState: loop.handedState }),
    onFailed: () => {
      if (opts.pidFile !== undefined) writePidFile(opts.pidFile)
    },
    logger,
  })
  return new Promise<number>((resolve) => {
    let stopping = false
    const stop = (why: Record<string, unknown>, message: string): void => {
      stopping = true
      logger.info(why, message)
      loop.drain().then(resolve, (err: unknown) => {
        logger.error({ err }, 'error while stopping')
        resolve(1)
      })
    }
    const onStopSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting at once')
        loop.hardStop?.()
        flushLogger(logger)
        process.exit(1)
      }
      // A new process that is not ready yet must not outlive this one.
      void upgrader.abort()
      stop({ signal }, 'graceful stop requested')
    }
    const onReload = (): void => {
      logger.info({ signal: 'SIGHUP' }, 'reload requested')
      loop.reload()
    }
    const onUpgrade = (): void => {
      if (stopping) {
        logger.warn({ signal: 'SIGUSR2' }, 'hot upgrade request ignored: this process is stopping')
        return
      }
      logger.info({ signal: 'SIGUSR2' }, 'hot upgrade requested')
      void upgrader.upgrade().then((result) => {
        if (result.outcome === 'ready' && !stopping) {
          loop.state.handedOver = true
          stop({ new_pid: result.pid }, 'handed over to the new process: draining')
        }
      })
    }
    loop.signals.attach((signal) => {
      if (signal === 'SIGHUP') onReload()
      else if (signal === 'SIGUSR2') onUpgrade()
      else onStopSignal(signal)
    })
  })
}

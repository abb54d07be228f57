/**
 * Hot upgrade (SPEC §5, SIGUSR2), the old process's side: start a new copy of this program
 * (same executable, arguments and environment, so the code now on disk is what runs), hand it
 * every listening socket as an inherited file descriptor, and wait for it to report ready over
 * the IPC channel. Only then is the caller told to drain; if the new process exits first or is
 * not ready in time it is stopped and the old one serves on as if nothing happened.
 *
 * The new process's side is `reportReady` / `awaitTakeOver` below, used by the CLI.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { Logger } from '../log/logger.ts'
import { INHERITED_FDS_ENV, type InheritedSocket } from '../server/inherited.ts'

/** Set in the new process's environment: the pid of the process it replaces. */
export const UPGRADE_FROM_ENV = 'HITLESS_UPGRADE_FROM'

// The IPC messages, both ways. `hitless` tags them as ours.
interface ReadyMessage {
  readonly hitless: 'ready'
  readonly pid: number
  readonly configVersion: string | null
}
interface TakeOverMessage {
  readonly hitless: 'take-over'
}

// The first inherited descriptor: 0–2 are stdio and 3 is the IPC channel.
const FIRST_FD = 4
// After SIGTERM, a new process that does not exit is killed this much later.
const KILL_GRACE_MS = 5_000

export interface UpgradeCommand {
  readonly execPath: string
  readonly args: readonly string[]
  readonly env: NodeJS.ProcessEnv
}

export interface UpgraderOptions {
  /** The sockets to hand over, read when an upgrade starts. */
  readonly sockets: () => InheritedSocket[]
  /** How long the new process has to report ready. */
  readonly timeoutMs: number
  /** Called once the new process is ready, before it is told to take over: stop accepting. */
  readonly handOver: () => void | Promise<void>
  /** Called when an upgrade failed and its new process is gone (e.g. to restore the pid file). */
  readonly onFailed?: () => void
  readonly logger: Logger
  /** What to start; defaults to this process's own command line and environment. */
  readonly command?: () => UpgradeCommand
}

export type UpgradeResult =
  | { readonly outcome: 'ready'; readonly pid: number; readonly configVersion: string | null }
  | { readonly outcome: 'failed'; readonly reason: string }
  | { readonly outcome: 'ignored'; readonly reason: string }

/** This process's command line: `node [node options] script [arguments]`, and its environment. */
export function ownCommand(): UpgradeCommand {
  return {
    execPath: process.execPath,
    args: [...process.execArgv, ...process.argv.slice(1)],
    env: process.env,
  }
}

export class Upgrader {
  readonly #options: UpgraderOptions
  #inProgress = false
  #done = false
  #child: ChildProcess | null = null

  constructor(options: UpgraderOptions) {
    this.#options = options
  }

  /**
   * Starts the new process and resolves when it is ready (the caller then drains and exits) or
   * has failed (the caller serves on). A second call while one runs, or after one succeeded,
   * is ignored.
   */
  async upgrade(): Promise<UpgradeResult> {
    const { logger } = this.#options
    if (this.#inProgress || this.#done) {
      const reason = this.#done ? 'already handed over' : 'an upgrade is already in progress'
      logger.warn({ reason }, 'hot upgrade request ignored')
      return { outcome: 'ignored', reason }
    }
    this.#inProgress = true
    try {
      const result = await this.#run()
      if (result.outcome === 'ready') this.#done = true
      return result
    } finally {
      this.#inProgress = false
    }
  }

  /** Stops a new process not yet ready (this one is being stopped: nobody must be left). */
  async abort(): Promise<void> {
    const child = this.#child
    if (child !== null && !this.#done) await stopChild(child)
  }

  async #run(): Promise<UpgradeResult> {
    const { logger, timeoutMs } = this.#options
    const sockets = this.#options.sockets()
    const command = (this.#options.command ?? ownCommand)()
    const handed = sockets.map((s, i) => ({ fd: FIRST_FD + i, key: s.key }))
    let child: ChildProcess
    try {
      child = spawn(command.execPath, command.args, {
        stdio: ['inherit', 'inherit', 'inherit', 'ipc', ...sockets.map((s) => s.fd)],
        env: {
          ...command.env,
          [INHERITED_FDS_ENV]: JSON.stringify(handed),
          [UPGRADE_FROM_ENV]: String(process.pid),
        },
      })
    } catch (err) {
      return this.#failed(`cannot start the new process: ${(err as Error).message}`)
    }
    logger.info(
      { new_pid: child.pid, sockets: handed.map((s) => s.key), timeout_ms: timeoutMs },
      'hot upgrade: new process started',
    )
    this.#child = child
    const outcome = await waitForReady(child, timeoutMs).finally(() => (this.#child = null))
    if (outcome.ready !== undefined) {
      await this.#options.handOver()
      child.send({ hitless: 'take-over' } satisfies TakeOverMessage)
      // The new process lives on alone: no channel or handle keeps this one's loop alive.
      child.disconnect()
      child.unref()
      logger.info(
        { new_pid: outcome.ready.pid, config_version: outcome.ready.configVersion },
        'hot upgrade: the new process is ready; draining this one',
      )
      return {
        outcome: 'ready',
        pid: outcome.ready.pid,
        configVersion: outcome.ready.configVersion,
      }
    }
    await stopChild(child)
    this.#options.onFailed?.()
    return this.#failed(outcome.reason, child.pid)
  }

  #failed(reason: string, pid?: number): UpgradeResult {
    this.#options.logger.error(
      { reason, new_pid: pid },
      'hot upgrade failed: this process keeps serving',
    )
    return { outcome: 'failed', reason }
  }
}

type Waited = { ready: ReadyMessage; reason?: undefined } | { ready?: undefined; reason: string }

function waitForReady(child: ChildProcess, timeoutMs: number): Promise<Waited> {
  return new Promise<Waited>((resolve) => {
    const done = (w: Waited): void => {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
      child.off('error', onError)
      resolve(w)
    }
    const onMessage = (msg: unknown): void => {
      if (isReady(msg)) done({ ready: msg })
    }
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      const how = signal === null ? `exit code ${String(code)}` : `signal ${signal}`
      done({ reason: `the new process exited (${how}) before it was ready` })
    }
    const onError = (err: Error): void => {
      done({ reason: `the new process could not run: ${err.message}` })
    }
    const timer = setTimeout(() => {
      done({ reason: `the new process was not ready within ${timeoutMs} ms` })
    }, timeoutMs)
    child.on('message', onMessage)
    child.once('exit', onExit)
    child.once('error', onError)
  })
}

/** SIGTERM (a process that got as far as serving drains, refusing nobody), SIGKILL later. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS)
  await exited
  clearTimeout(timer)
}

function isReady(msg: unknown): msg is ReadyMessage {
  return (
    typeof msg === 'object' && msg !== null && (msg as { hitless?: unknown }).hitless === 'ready'
  )
}

/** In the new process: whether it was started by a hot upgrade (and has the channel to say so). */
export function isUpgradeChild(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[UPGRADE_FROM_ENV] !== undefined && typeof process.send === 'function'
}

/**
 * In the new process, once it serves: tells the old one and resolves when the old one has
 * handed over (its "take-over" message, or the channel closing because it is gone). The
 * channel is then closed, so that it keeps nothing alive.
 */
export async function reportReadyAndAwaitTakeOver(configVersion: string | null): Promise<void> {
  const send = process.send?.bind(process)
  if (send === undefined) return
  delete process.env[UPGRADE_FROM_ENV]
  const takenOver = new Promise<void>((resolve) => {
    const onMessage = (msg: unknown): void => {
      if ((msg as TakeOverMessage | null)?.hitless === 'take-over') finish()
    }
    const finish = (): void => {
      process.off('message', onMessage)
      process.off('disconnect', finish)
      resolve()
    }
    process.on('message', onMessage)
    process.once('disconnect', finish)
  })
  // A closed channel (the old process died meanwhile) means nobody else serves: carry on.
  let sendFailed: () => void = () => undefined
  const failed = new Promise<void>((resolve) => (sendFailed = resolve))
  send({ hitless: 'ready', pid: process.pid, configVersion } satisfies ReadyMessage, (err) => {
    if (err !== null) sendFailed()
  })
  await Promise.race([takenOver, failed])
  if (process.connected) process.disconnect()
}

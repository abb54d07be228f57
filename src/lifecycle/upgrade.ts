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
interface TakenOverMessage {
  readonly hitless: 'taken-over'
}

// The first inherited descriptor: 0–2 are stdio and 3 is the IPC channel.
const FIRST_FD = 4
// After SIGTERM, a new process that does not exit is killed this much later.
const KILL_GRACE_MS = 5_000
// How long a ready new process has to acknowledge the take-over.
const TAKE_OVER_MS = 5_000

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
  /**
   * What the new process should start from rather than read afresh (see HandedState); sent as
   * the first message, null included (the new process then reads its config as usual).
   */
  readonly handedState?: () => HandedState | null
}

/**
 * Handed from the old process to the new one at a hot upgrade, while a staged roll-out runs or
 * after one was rolled back: the new process starts on the stable document the old one served
 * (not straight on the canary's document, which its config file may hold), then reads its file
 * as a reload would (a canary again, judged afresh; or refused as rolled back).
 */
export interface HandedState {
  /** The stable version's document, as JSON. */
  readonly document: string
  /** The version of the last canary rolled back, if any. */
  readonly rolledBack: string | null
}

interface StateMessage {
  readonly hitless: 'state'
  readonly state: HandedState | null
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
    const state = this.#options.handedState?.() ?? null
    child.send({ hitless: 'state', state } satisfies StateMessage, () => undefined)
    // A send to a process that died is reported here, not thrown: the outcome says what failed.
    child.on('error', (err) => logger.debug({ err: err.message }, 'hot upgrade: channel error'))
    try {
      const outcome = await waitForReady(child, timeoutMs)
      if (outcome.ready === undefined) return await this.#abandon(child, outcome.reason)
      // It takes over before this process stops accepting: if it is gone by then, this one has
      // not stopped and serves on as if nothing happened.
      const failure = await takeOver(child)
      if (failure !== null) return await this.#abandon(child, failure)
      await this.#options.handOver()
      // The new process lives on alone: no channel or handle keeps this one's loop alive.
      if (child.connected) child.disconnect()
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
    } finally {
      this.#child = null
    }
  }

  async #abandon(child: ChildProcess, reason: string): Promise<UpgradeResult> {
    await stopChild(child)
    this.#options.onFailed?.()
    return this.#failed(reason, child.pid)
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

/** Sends "take-over" and waits for its acknowledgement; null when done, else what failed. */
function takeOver(child: ChildProcess): Promise<string | null> {
  return new Promise((resolve) => {
    const done = (why: string | null): void => {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
      resolve(why)
    }
    const onMessage = (msg: unknown): void => {
      if ((msg as { hitless?: unknown } | null)?.hitless === 'taken-over') done(null)
    }
    const onExit = (): void => done('the new process exited before it took over')
    const timer = setTimeout(() => done('the new process did not take over in time'), TAKE_OVER_MS)
    child.on('message', onMessage)
    child.once('exit', onExit)
    child.send({ hitless: 'take-over' } satisfies TakeOverMessage, (err) => {
      if (err !== null) done(`the new process could not be told to take over: ${err.message}`)
    })
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

/**
 * In the new process, first thing: what the old one handed over (null: nothing, or an old
 * process that sends no state, after `timeoutMs`).
 */
export function receiveHandedState(timeoutMs = 2000): Promise<HandedState | null> {
  return new Promise((resolve) => {
    const onMessage = (msg: unknown): void => {
      const m = msg as Partial<StateMessage> | null
      if (m?.hitless !== 'state') return
      done(validState(m.state) ? m.state : null)
    }
    const done = (state: HandedState | null): void => {
      clearTimeout(timer)
      process.off('message', onMessage)
      resolve(state)
    }
    const timer = setTimeout(() => done(null), timeoutMs)
    process.on('message', onMessage)
  })
}

function validState(state: unknown): state is HandedState {
  const s = state as Partial<HandedState> | null | undefined
  return (
    typeof s?.document === 'string' && (s.rolledBack === null || typeof s.rolledBack === 'string')
  )
}

/** In the new process: whether it was started by a hot upgrade (and has the channel to say so). */
export function isUpgradeChild(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[UPGRADE_FROM_ENV] !== undefined && typeof process.send === 'function'
}

/**
 * In the new process, once it serves: tells the old one it is ready, and resolves when the old
 * one has handed over (its "take-over", acknowledged with "taken-over"), when the channel closes
 * (the old one is gone), or when `stopped` resolves (this process was told to stop meanwhile).
 * The channel is then closed, so that it keeps nothing alive.
 */
export async function reportReadyAndAwaitTakeOver(
  configVersion: string | null,
  stopped: Promise<void>,
): Promise<void> {
  const send = process.send?.bind(process)
  if (send === undefined) return
  delete process.env[UPGRADE_FROM_ENV]
  let finish: () => void = () => undefined
  const done = new Promise<void>((resolve) => (finish = resolve))
  const onMessage = (msg: unknown): void => {
    if ((msg as TakeOverMessage | null)?.hitless !== 'take-over') return
    send({ hitless: 'taken-over' } satisfies TakenOverMessage, () => finish())
  }
  process.on('message', onMessage)
  process.once('disconnect', finish)
  // A failed send means the old process is gone already: nobody else serves, carry on.
  send({ hitless: 'ready', pid: process.pid, configVersion } satisfies ReadyMessage, (err) => {
    if (err !== null) finish()
  })
  await Promise.race([done, stopped])
  process.off('message', onMessage)
  process.off('disconnect', finish)
  if (process.connected) process.disconnect()
}

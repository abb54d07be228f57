/**
 * A worker of `hitless run --workers N`: started by the supervisor with the listening sockets as
 * inherited descriptors and the document in its first IPC message. It serves, applies what the
 * supervisor relays (reloads, rollbacks), answers its metrics, and sends its own admin API's
 * reload, rollback and metrics to the supervisor so that they concern every worker. SIGTERM (or
 * the supervisor going away) drains it; SIGHUP and SIGUSR2 belong to the supervisor.
 */
import { createGateway, type Gateway, type GatewayControl } from '../gateway.ts'
import type { ReloadResult } from '../lifecycle/reload.ts'
import type { RolloutResult } from '../lifecycle/rollout.ts'
import { WORKER_ENV, type FromWorker, type ToWorker } from '../lifecycle/workers.ts'
import { createLogger, flushLogger, type Logger } from '../log/logger.ts'
import { InheritedSockets } from '../server/inherited.ts'
import { printStartError } from './print-error.ts'
import type { CliIo, RunOptions } from './run.ts'
import { EarlySignals } from './signals.ts'

const INIT_TIMEOUT_MS = 30_000

export function isWorker(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[WORKER_ENV] !== undefined && typeof process.send === 'function'
}

export async function runWorker(opts: RunOptions, io: CliIo): Promise<number> {
  // First thing: no signal may kill a worker by its default action, and a supervisor that dies
  // while the worker starts must not leave it running alone.
  const signals = new EarlySignals()
  let supervisorGone = false
  process.once('disconnect', () => (supervisorGone = true))
  const index = Number(process.env[WORKER_ENV])
  delete process.env[WORKER_ENV]
  const send = (msg: FromWorker): void => {
    if (process.connected) process.send?.(msg)
  }
  const init = await firstMessage()
  if (init === null) {
    io.err('hitless worker: no document from the supervisor')
    return 1
  }
  let inherited: InheritedSockets
  try {
    inherited = InheritedSockets.fromEnv(process.env, process.pid)
  } catch (err) {
    io.err(`hitless worker: inherited sockets: ${(err as Error).message}`)
    return 1
  }
  const asked = new Map<number, (answer: unknown) => void>()
  let nextId = 1
  // Unanswered when the supervisor is gone: each caller then falls back (below).
  const ask = (
    what: 'reload' | 'rollback' | 'metrics' | 'rollout-end',
    extra: object,
  ): Promise<unknown> =>
    new Promise((resolve) => {
      if (!process.connected) {
        resolve(undefined)
        return
      }
      const id = nextId++
      asked.set(id, resolve)
      send({ hitless: 'ask', id, what, ...extra })
    })
  process.once('disconnect', () => {
    for (const resolve of asked.values()) resolve(undefined)
    asked.clear()
  })
  const noSupervisor: ReloadResult = {
    outcome: 'rejected',
    errors: [{ path: '', line: null, column: null, message: 'the supervisor is gone' }],
  }
  const control: GatewayControl = {
    reload: async (text) =>
      ((await ask('reload', text === undefined ? {} : { text })) as ReloadResult | undefined) ??
      noSupervisor,
    rollback: async (version) =>
      ((await ask('rollback', { version })) as ReloadResult | null | undefined) ?? null,
    metrics: async () =>
      ((await ask('metrics', {})) as { body: string; contentType: string } | undefined) ??
      gateway.metrics.render(),
    endRollout: async (action) =>
      ((await ask('rollout-end', { action })) as RolloutResult | null | undefined) ?? null,
    reportRollout: (version, counts) => send({ hitless: 'rollout-counts', version, counts }),
  }
  const logger = createLogger({ level: opts.logLevel, format: opts.logFormat }).child({
    worker: index,
  })
  const gateway = createGateway({
    config: init.text,
    sourceName: init.path,
    logger,
    inheritedSockets: inherited,
    control,
  })
  try {
    await gateway.start()
  } catch (err) {
    printStartError(err, init.path, io)
    flushLogger(logger)
    return 1
  }
  process.on('message', (msg: ToWorker) => {
    const done = (id: number) => (answer: unknown) => send({ hitless: 'done', id, answer })
    switch (msg.hitless) {
      case 'apply':
        void gateway.reload(msg.text, msg.source).then(done(msg.id))
        break
      case 'rollback':
        void gateway.rollback(msg.version).then(done(msg.id))
        break
      case 'stop-accepting':
        gateway.stopAccepting()
        done(msg.id)(true)
        break
      case 'metrics':
        void gateway.metrics.registry.getMetricsAsJSON().then(done(msg.id))
        break
      case 'rollout':
        done(msg.id)(gateway.decideRollout(msg.version, msg.outcome, msg.reason))
        break
      case 'rollout-counts':
        gateway.shareRolloutCounts(msg.version, msg.counts)
        break
      case 'answer':
        asked.get(msg.id)?.(msg.answer)
        asked.delete(msg.id)
        break
      case 'init':
        break
    }
  })
  send({ hitless: 'ready', pid: process.pid, configVersion: gateway.configVersion })
  return serveAsWorker(gateway, logger, signals, () => supervisorGone).finally(() =>
    flushLogger(logger),
  )
}

function serveAsWorker(
  gateway: Gateway,
  logger: Logger,
  signals: EarlySignals,
  supervisorGone: () => boolean,
): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false
    const stop = (why: string): void => {
      // A worker may get the stop signal twice (from a service manager signalling the whole
      // group, and from the supervisor): it drains once. Stopping at once is the supervisor's
      // call (SIGKILL on its second signal).
      if (stopping) {
        logger.debug({ why }, 'already draining')
        return
      }
      stopping = true
      logger.info({ why }, 'worker stopping')
      gateway.close().then(
        () => resolve(0),
        () => resolve(1),
      )
    }
    signals.attach((signal) => {
      if (signal === 'SIGTERM' || signal === 'SIGINT') stop(signal)
      else logger.debug({ signal }, 'ignored: this signal is the supervisor’s')
    })
    // The supervisor is gone (killed): nobody relays reloads any more; drain and go.
    if (supervisorGone() || !process.connected) stop('supervisor gone')
    else process.once('disconnect', () => stop('supervisor gone'))
  })
}

function firstMessage(): Promise<{ text: string; path: string } | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), INIT_TIMEOUT_MS)
    process.once('message', (msg: ToWorker) => {
      clearTimeout(timer)
      resolve(msg.hitless === 'init' ? { text: msg.text, path: msg.path } : null)
    })
  })
}

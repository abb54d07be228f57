/**
 * `hitless run`: start the gateway and stay in the foreground, watching the config file.
 * SIGHUP reloads it; SIGUSR2 hot-upgrades (a new process takes the sockets over, this one
 * drains); SIGTERM/SIGINT drain and exit 0, a second one exits at once. Config errors at start
 * are printed one per line and exit 1.
 */
import { createGateway, type EtcdSourceOptions, type Gateway } from '../gateway.ts'
import { removePidFile, writePidFile } from '../lifecycle/pid-file.ts'
import {
  isUpgradeChild,
  receiveHandedState,
  reportReadyAndAwaitTakeOver,
} from '../lifecycle/upgrade.ts'
import { flushLogger, type LogFormat, type LogLevel } from '../log/logger.ts'
import { InheritedSockets } from '../server/inherited.ts'
import { printStartError } from './print-error.ts'
import { EarlySignals, serveUntilSignalled } from './signals.ts'

export interface RunOptions {
  readonly configPath: string
  /** Fleet mode: the document comes from this etcd key instead of `configPath`. */
  readonly etcd?: EtcdSourceOptions
  readonly logLevel: LogLevel
  readonly logFormat: LogFormat
  /** Written once serving (atomically), kept current across hot upgrades. */
  readonly pidFile?: string | undefined
  /** How long a hot upgrade's new process has to report ready. */
  readonly upgradeTimeoutMs: number
}

export interface CliIo {
  readonly out: (line: string) => void
  readonly err: (line: string) => void
}

/** Runs until stopped by a signal (or handed over by an upgrade); resolves with the exit code. */
export async function runCommand(opts: RunOptions, io: CliIo): Promise<number> {
  const signals = new EarlySignals()
  const upgradeChild = isUpgradeChild()
  let inherited: InheritedSockets
  try {
    inherited = InheritedSockets.fromEnv(process.env, process.pid)
  } catch (err) {
    io.err(`hitless: inherited sockets: ${(err as Error).message}`)
    return 1
  }
  const source = opts.etcd === undefined ? opts.configPath : `etcd:${opts.etcd.key}`
  // A hot upgrade during (or after a rolled-back) roll-out: start on the old process's stable
  // document, not straight on the canary the file may hold.
  const handed = upgradeChild ? await receiveHandedState() : null
  const gateway = createGateway({
    ...(opts.etcd === undefined ? { configPath: opts.configPath } : { etcd: opts.etcd }),
    ...(handed === null ? {} : { startWith: handed }),
    watch: true,
    logLevel: opts.logLevel,
    logFormat: opts.logFormat,
    inheritedSockets: inherited,
  })
  // Fleet mode may wait for a usable document for long: a stop signal meanwhile ends the wait.
  if (opts.etcd !== undefined) {
    void signals.stopped.then(() => {
      if (gateway.configVersion === null) void gateway.close()
    })
  }
  try {
    await gateway.start()
  } catch (err) {
    flushLogger(gateway.logger)
    if (signals.stopRequested && gateway.configVersion === null) return 0
    printStartError(err, source, io)
    return 1
  }
  // The pid file names this process before the old one (in an upgrade) is told it is ready, so
  // that it never names a process that has exited: a supervisor reading it when the old process
  // exits (systemd's PIDFile=) finds the new one. A failed upgrade writes the old pid back.
  if (opts.pidFile !== undefined) writePidFile(opts.pidFile)
  // Told to stop meanwhile (the old process gave up on it): serve no hand-over, just drain.
  if (upgradeChild) await reportReadyAndAwaitTakeOver(gateway.configVersion, signals.stopped)
  const state = { handedOver: false }
  return serveUntilStopped(gateway, opts, state, signals).finally(() => {
    // After a hand-over the file names the successor (and is its to remove): checking its
    // content and then removing it would race with the successor writing it.
    if (opts.pidFile !== undefined && !state.handedOver) removePidFile(opts.pidFile)
    flushLogger(gateway.logger)
  })
}

function serveUntilStopped(
  gateway: Gateway,
  opts: RunOptions,
  state: { handedOver: boolean },
  signals: EarlySignals,
): Promise<number> {
  return serveUntilSignalled({
    signals,
    logger: gateway.logger,
    opts,
    state,
    sockets: () => gateway.listeningSockets(),
    handOver: () => gateway.stopAccepting(),
    // The outcome is logged, counted and kept in the history by the reload pipeline.
    reload: () => void gateway.reload(undefined, 'signal'),
    drain: () => gateway.close().then(() => 0),
    handedState: () => gateway.handedState(),
  })
}

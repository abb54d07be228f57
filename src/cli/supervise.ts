/**
 * `hitless run --workers N`: the supervisor. It reads the config (and refuses to start on a bad
 * one), binds the listening sockets without ever accepting on them, starts N workers on them
 * (see lifecycle/workers.ts) and from then on: relays every reload (file change, SIGHUP, a
 * worker's admin API) to all workers so they serve the same version, replaces a worker that
 * dies, merges the workers' metrics for /metrics, hot-upgrades on SIGUSR2 (a new supervisor
 * takes the sockets over and starts new workers; this one's workers drain), and on SIGTERM
 * drains every worker and exits 0.
 */
import { lookup } from 'node:dns/promises'
import { closeSync, linkSync, renameSync } from 'node:fs'
import { unlink } from 'node:fs/promises'
import net from 'node:net'
import { getSystemErrorName } from 'node:util'
import { AggregatorRegistry } from 'prom-client'
import { loadConfig, readConfigFile, type LoadedConfig } from '../config/load.ts'
import { watchConfigFile } from '../config/sources/file.ts'
import type { ListenAddress } from '../config/types.ts'
import { writePidFile, removePidFile } from '../lifecycle/pid-file.ts'
import type { ReloadResult, ReloadSource } from '../lifecycle/reload.ts'
import { WorkersConfig } from '../lifecycle/workers-config.ts'
import { isUpgradeChild, ownCommand, reportReadyAndAwaitTakeOver } from '../lifecycle/upgrade.ts'
import { WorkerPool } from '../lifecycle/workers.ts'
import { createLogger, flushLogger, type Logger } from '../log/logger.ts'
import {
  describeSocketFd,
  InheritedSockets,
  socketKey,
  type InheritedSocket,
} from '../server/inherited.ts'
import { printStartError } from './print-error.ts'
import { EarlySignals, serveUntilSignalled } from './signals.ts'
import type { CliIo, RunOptions } from './run.ts'

/** A socket the supervisor holds: its descriptor and, when it bound it, the handle owning it. */
interface HeldSocket extends InheritedSocket {
  readonly use: 'listener' | 'admin'
  readonly name: string
  readonly address: ListenAddress
}

export async function superviseCommand(
  opts: RunOptions & { readonly workers: number },
  io: CliIo,
): Promise<number> {
  const signals = new EarlySignals()
  const path = opts.configPath
  const logger = createLogger({ level: opts.logLevel, format: opts.logFormat }).child({
    supervisor: true,
  })
  let text: string
  let loaded: LoadedConfig
  try {
    text = await readConfigFile(path)
    loaded = loadConfig(text, { source: path, env: process.env })
  } catch (err) {
    printStartError(err, path, io)
    return 1
  }
  let held: HeldSocket[]
  try {
    held = await holdSockets(loaded, InheritedSockets.fromEnv(process.env, process.pid))
  } catch (err) {
    io.err(`hitless: ${(err as Error).message}`)
    return 1
  }
  const versions: WorkersConfig = new WorkersConfig({
    path,
    initial: { text, version: loaded.version },
    logger,
    env: process.env,
    decide: (version, outcome, reason) => pool.decideRollout(version, outcome, reason),
    share: (version, counts) => pool.shareRollout(version, counts),
  })
  const pool: WorkerPool = new WorkerPool({
    count: opts.workers,
    sockets: held,
    command: ownCommand(),
    document: () => versions.current,
    readyTimeoutMs: opts.upgradeTimeoutMs,
    logger,
    questions: {
      reload: async (body) => applyAll(body ?? (await readConfigFile(path)), 'admin'),
      rollback: async (version): Promise<ReloadResult | null> => {
        // The document itself when the supervisor has it: a worker started since has not got
        // that version in its own history.
        const text = versions.textOf(version)
        if (text !== undefined)
          return versions.settle(await pool.apply(text, 'rollback'), 'rollback', text)
        const results = (await pool.rollback(version)).filter((r) => r !== null)
        return results.length === 0 ? null : versions.settle(results, 'rollback')
      },
      metrics: async () => {
        const merged = AggregatorRegistry.aggregate(await pool.metrics())
        return { body: await merged.metrics(), contentType: merged.contentType }
      },
      endRollout: (action) => versions.rollout.byHand(action),
      rolloutCounts: (worker, version, counts) => versions.rollout.report(worker, version, counts),
    },
    // A worker started during a roll-out joins the canary, so that it follows the decision too.
    replaced: (index) => {
      const canary = versions.canary
      if (canary !== null) void pool.applyTo(index, canary.text, canary.source)
    },
  })
  /** Sends a document to every worker; the version they all serve becomes the current one. */
  const applyAll = async (doc: string, source: ReloadSource): Promise<ReloadResult> => {
    const refused = listenerChange(doc, held, path)
    if (refused !== null) {
      logger.error({ source, errors: refused.errors }, 'config rejected')
      return refused
    }
    return versions.settle(await pool.apply(doc, source), source, doc)
  }
  try {
    await pool.start()
  } catch (err) {
    io.err(`hitless: ${(err as Error).message}`)
    flushLogger(logger)
    return 1
  }
  logger.info(
    { config_version: versions.current.version, workers: pool.pids, ...addressesOf(held) },
    `hitless serving on ${addressesOf(held)
      .listeners.map((l) => l.address)
      .join(', ')}`,
  )
  if (opts.pidFile !== undefined) writePidFile(opts.pidFile)
  if (isUpgradeChild()) await reportReadyAndAwaitTakeOver(versions.current.version, signals.stopped)

  const watcher = watchConfigFile(path, {
    initialText: text,
    onChange: async (changed, change) => {
      try {
        loadConfig(changed, { source: path, env: process.env })
      } catch {
        // A half-written file: look again after the debounce before reporting anything.
        if (!change.recheck) return 'retry'
      }
      await applyAll(changed, 'file')
      return undefined
    },
    onError: (err) => logger.warn({ err: err.message, path }, 'config file watch problem'),
  })
  const state = { handedOver: false }
  return superviseUntilStopped({
    pool,
    held,
    logger,
    opts,
    applyAll,
    state,
    path,
    signals,
  }).finally(() => {
    watcher.close()
    if (opts.pidFile !== undefined && !state.handedOver) removePidFile(opts.pidFile)
    flushLogger(logger)
  })
}

interface Supervised {
  readonly pool: WorkerPool
  readonly held: readonly HeldSocket[]
  readonly logger: Logger
  readonly opts: RunOptions
  readonly applyAll: (doc: string, source: ReloadSource) => Promise<ReloadResult>
  readonly state: { handedOver: boolean }
  readonly path: string
  readonly signals: EarlySignals
}

function superviseUntilStopped(s: Supervised): Promise<number> {
  const { pool, logger } = s
  return serveUntilSignalled({
    signals: s.signals,
    logger,
    opts: s.opts,
    state: s.state,
    sockets: () => [...s.held],
    // The new supervisor's workers accept from now on; these drain once it has taken over.
    handOver: () => pool.stopAccepting(),
    reload: () => {
      readConfigFile(s.path).then(
        (doc) => s.applyAll(doc, 'signal'),
        (err: unknown) =>
          logger.error({ err: (err as Error).message }, 'cannot read the config file'),
      )
    },
    drain: async () => {
      // The workers stop accepting as they start draining; this process's copies of the
      // sockets would keep them listening, with connections queueing for nobody: closed now,
      // so that new connections are refused (after a hand-over the new supervisor has its own).
      releaseSockets(s.held)
      await pool.stop()
      return 0
    },
    hardStop: () => pool.kill(),
  })
}

/** The sockets of `loaded`'s listeners and admin API: inherited ones, else bound here. */
async function holdSockets(
  loaded: LoadedConfig,
  inherited: InheritedSockets,
): Promise<HeldSocket[]> {
  const admin = loaded.config.admin
  const wanted: { use: 'listener' | 'admin'; name: string; address: ListenAddress }[] = [
    ...loaded.config.listeners.map((l) => ({
      use: 'listener' as const,
      name: l.name,
      address: l.address,
    })),
    ...(admin === null ? [] : [{ use: 'admin' as const, name: 'admin', address: admin.address }]),
  ]
  const held: HeldSocket[] = []
  for (const { use, name, address } of wanted) {
    const fd = inherited.take(address, use) ?? (await bindSocket(address))
    held.push({ use, name, address, fd, key: `${use}@${socketKey(address)}` })
  }
  inherited.closeUnclaimed()
  return held
}

// Handles this process bound, by descriptor: kept referenced until the sockets are released.
const boundHandles = new Map<number, { close(): void }>()

/** Closes this process's copy of every held socket (the handle that owns it, if bound here). */
function releaseSockets(held: readonly HeldSocket[]): void {
  for (const { fd, address } of held) {
    const handle = boundHandles.get(fd)
    boundHandles.delete(fd)
    // libuv removes the path of a unix socket it bound when it closes it, though a successor
    // may still serve the socket: the path is kept through a second link, renamed back.
    const keep = handle !== undefined && address.kind === 'unix' ? `${address.path}.keep` : null
    try {
      if (keep !== null && address.kind === 'unix') linkSync(address.path, keep)
    } catch {
      // No path to keep.
    }
    try {
      if (handle !== undefined) handle.close()
      else closeSync(fd)
      if (keep !== null && address.kind === 'unix') renameSync(keep, address.path)
    } catch {
      // Already closed, or nothing kept.
    }
  }
}

/**
 * Binds `address` without listening: node:net's `_createServerHandle` (what node:cluster uses
 * for the same purpose) gives a bound socket that this process never polls, so it never
 * accepts; the workers call listen() on their copies and accept.
 */
async function bindSocket(address: ListenAddress): Promise<number> {
  const create = (
    net as unknown as {
      _createServerHandle?: (host: string, port: number, type: number) => unknown
    }
  )._createServerHandle
  if (typeof create !== 'function') {
    throw new Error('--workers needs node:net _createServerHandle, which this Node.js lacks')
  }
  let handle: unknown
  if (address.kind === 'unix') {
    await unlink(address.path).catch(() => undefined)
    handle = create(address.path, -1, -1)
  } else {
    const host = net.isIP(address.host) === 0 ? (await lookup(address.host)).address : address.host
    handle = create(host, address.port, net.isIPv6(host) ? 6 : 4)
  }
  if (typeof handle === 'number') {
    throw new Error(`cannot bind ${socketKey(address)}: ${getSystemErrorName(handle)}`)
  }
  const bound = handle as { fd?: unknown; close(): void; getsockname?: (out: object) => number }
  if (address.kind === 'tcp') {
    // libuv defers EADDRINUSE from bind() to listen(), which the workers call on their own
    // copies, where the error would be lost and the socket bound to a random port instead: an
    // address not actually bound here is reported now.
    const out: { port?: number } = {}
    bound.getsockname?.(out)
    if (
      out.port === undefined ||
      out.port === 0 ||
      (address.port !== 0 && out.port !== address.port)
    ) {
      bound.close()
      throw new Error(`cannot bind ${socketKey(address)}: EADDRINUSE`)
    }
  }
  const fd = bound.fd
  if (typeof fd !== 'number') throw new Error(`cannot bind ${socketKey(address)}: no descriptor`)
  boundHandles.set(fd, handle as { close(): void })
  return fd
}

/** Where the held sockets are bound (ports resolved), in the shape of the serving log line. */
function addressesOf(held: readonly HeldSocket[]): {
  listeners: { name: string; address: string }[]
  admin: string | null
} {
  const bound = (h: HeldSocket): string => describeSocketFd(h.fd) ?? socketKey(h.address)
  const admin = held.find((h) => h.use === 'admin')
  return {
    listeners: held
      .filter((h) => h.use === 'listener')
      .map((h) => ({ name: h.name, address: bound(h) })),
    admin: admin === undefined ? null : bound(admin),
  }
}

/**
 * In --workers mode the sockets belong to the supervisor, which binds them at start: a reload
 * that changes the listeners' or the admin API's addresses is refused (a hot upgrade, SIGUSR2,
 * applies it: the new supervisor binds what is new).
 */
function listenerChange(
  doc: string,
  held: readonly HeldSocket[],
  path: string,
): Extract<ReloadResult, { outcome: 'rejected' }> | null {
  let loaded: LoadedConfig
  try {
    loaded = loadConfig(doc, { source: path, env: process.env })
  } catch {
    return null // the workers reject it, each with the errors in its history
  }
  const keys = (list: readonly string[]): string => [...list].sort().join(' ')
  const wanted = [
    ...loaded.config.listeners.map((l) => `listener@${socketKey(l.address)}`),
    ...(loaded.config.admin === null ? [] : [`admin@${socketKey(loaded.config.admin.address)}`]),
  ]
  if (keys(wanted) === keys(held.map((h) => h.key))) return null
  return {
    outcome: 'rejected',
    errors: [
      {
        path: 'listeners',
        line: null,
        column: null,
        message:
          'with --workers, listener and admin addresses change with a hot upgrade (SIGUSR2), not a reload',
      },
    ],
  }
}

/**
 * Runs the real CLI with `--pid-file`, for the hot-upgrade tests: after a SIGUSR2 the serving
 * process is a new one (a child of the old, then an orphan), so this helper follows the pid file
 * rather than its own child, remembers every pid that ever served, and stops them all by PID.
 * Every process writes to the same stdout pipe (the new one inherits it); the lines are parsed
 * as JSON and each carries the `pid` of the process that wrote it.
 *
 * `codeDir` runs a private copy of the built code (build/src copied under build/), so that a test
 * can change the code on disk between upgrades (`setBuildId`) and see which code serves.
 */
import { spawn } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseLogLine } from './log-lines.ts'
import { waitFor } from './wait-for.ts'

const BUILD_SRC = fileURLToPath(new URL('../../src', import.meta.url))

export interface UpgradableGateway {
  /** Pid of the process the pid file names now. */
  readonly pid: () => number
  readonly pidFile: string
  readonly configPath: string
  readonly logs: Record<string, unknown>[]
  /** Every pid that served at some point. */
  readonly pids: Set<number>
  /** Log lines whose `msg` starts with `prefix` (from any process). */
  linesWith(prefix: string): Record<string, unknown>[]
  /**
   * Sends SIGUSR2 to the serving process and resolves with the successor's pid once the pid
   * file names it and the old process has stopped accepting (its hand-over log line).
   */
  upgrade(timeoutMs?: number): Promise<number>
  /** Changes BUILD_ID in the code on disk (only with `privateCode`). */
  setBuildId(id: string): void
  /** SIGTERM to the serving process, then SIGKILL to any pid still alive; removes temp files. */
  close(): Promise<void>
  readonly stderr: () => string
  /** Exit code of the first process, null while it runs (or when a signal ended it). */
  readonly exitCode: () => number | null
}

export interface UpgradableOptions {
  readonly privateCode?: boolean
  readonly upgradeTimeout?: string
  readonly env?: Record<string, string>
  /** Node options for the first process (a hot upgrade passes them on to the next). */
  readonly nodeArgs?: readonly string[]
  /** More `hitless run` arguments, e.g. `['--workers', '2']`. */
  readonly args?: readonly string[]
  /** Return as soon as the process is spawned, not once it serves (fleet mode waiting). */
  readonly noWait?: boolean
}

/** True while `pid` runs (a zombie, exited but not yet reaped, counts as gone). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

function readPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim())
    return Number.isInteger(pid) && pid > 0 ? pid : null
  } catch {
    return null
  }
}

export async function startUpgradable(
  configText: string,
  opts: UpgradableOptions = {},
): Promise<UpgradableGateway> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hitless-upgrade-'))
  const configPath = path.join(dir, 'config.yaml')
  const pidFile = path.join(dir, 'hitless.pid')
  writeFileSync(configPath, configText)
  let codeRoot: string | null = null
  let cli = path.join(BUILD_SRC, 'cli', 'main.js')
  if (opts.privateCode === true) {
    // Under build/, so that the copy still resolves node_modules from the repository.
    codeRoot = mkdtempSync(path.join(path.dirname(BUILD_SRC), 'upgrade-code-'))
    cpSync(BUILD_SRC, path.join(codeRoot, 'src'), { recursive: true })
    cli = path.join(codeRoot, 'src', 'cli', 'main.js')
  }
  const args = [...(opts.nodeArgs ?? []), cli, 'run', '-c', configPath, '--pid-file', pidFile]
  if (opts.upgradeTimeout !== undefined) args.push('--upgrade-timeout', opts.upgradeTimeout)
  args.push(...(opts.args ?? []))
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  })
  const pids = new Set<number>()
  if (child.pid !== undefined) pids.add(child.pid)
  const logs: Record<string, unknown>[] = []
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  createInterface({ input: child.stdout }).on('line', (line) => {
    const parsed = parseLogLine(line)
    logs.push(parsed)
    if (typeof parsed['pid'] === 'number') pids.add(parsed['pid'])
  })
  const killAll = (): void => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // Already gone.
      }
    }
  }
  const cleanUp = (): void => {
    killAll()
    rmSync(dir, { recursive: true, force: true })
    if (codeRoot !== null) rmSync(codeRoot, { recursive: true, force: true })
  }
  process.once('exit', cleanUp)

  const current = (): number => {
    const pid = readPid(pidFile)
    if (pid === null) throw new Error(`${pidFile} names no process`)
    return pid
  }
  const gw: UpgradableGateway = {
    pid: current,
    pidFile,
    configPath,
    logs,
    pids,
    stderr: () => stderr,
    exitCode: () => child.exitCode,
    linesWith: (prefix) =>
      logs.filter((l) => typeof l['msg'] === 'string' && l['msg'].startsWith(prefix)),
    async upgrade(timeoutMs = 15_000) {
      const before = current()
      process.kill(before, 'SIGUSR2')
      let next = before
      await waitFor(
        () => {
          next = readPid(pidFile) ?? before
          return next !== before
        },
        { timeoutMs, intervalMs: 20, message: `a successor of ${before} in the pid file` },
      )
      await waitFor(
        () =>
          logs.some(
            (l) => l['pid'] === before && l['msg'] === 'handed over to the new process: draining',
          ),
        { timeoutMs, intervalMs: 10, message: `${before} hands over` },
      )
      pids.add(next)
      return next
    },
    setBuildId(id) {
      if (codeRoot === null) throw new Error('setBuildId needs privateCode')
      const file = path.join(codeRoot, 'src', 'version.js')
      const text = readFileSync(file, 'utf8')
      writeFileSync(file, text.replace(/BUILD_ID = '[^']*'/, `BUILD_ID = '${id}'`))
    },
    async close() {
      const pid = readPid(pidFile) ?? child.pid ?? null
      if (pid !== null && isRunning(pid)) process.kill(pid, 'SIGTERM')
      await waitFor(() => [...pids].every((p) => !isRunning(p)), {
        timeoutMs: 10_000,
        message: 'every gateway process to exit',
      }).catch(killAll)
      process.removeListener('exit', cleanUp)
      cleanUp()
    },
  }
  if (opts.noWait === true) return gw
  try {
    await waitFor(() => child.pid !== undefined && readPid(pidFile) === child.pid, {
      timeoutMs: 10_000,
      message: `the gateway to serve; stderr: ${stderr}`,
    })
  } catch (err) {
    await gw.close()
    throw err
  }
  return gw
}

/**
 * Where a process serves, from its `hitless serving on` line: that of `pid` when given, else the
 * first one logged (the sockets never change across upgrades). Waits for the line up to 10 s.
 */
export async function servingAddresses(
  gw: UpgradableGateway,
  pid?: number,
): Promise<{ url: string; admin: string }> {
  let line: Record<string, unknown> | undefined
  await waitFor(
    () =>
      (line = gw
        .linesWith('hitless serving on')
        .find((l) => pid === undefined || l['pid'] === pid)) !== undefined,
    { timeoutMs: 10_000, message: `a serving line; stderr: ${gw.stderr()}` },
  )
  const { listeners, admin } = line as { listeners: { address: string }[]; admin: string }
  return { url: `http://${listeners[0]?.address ?? ''}`, admin: `http://${admin}` }
}

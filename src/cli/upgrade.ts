/**
 * `hitless upgrade --pid-file F`: ask the running gateway to hot-upgrade (SIGUSR2) and wait until
 * the pid file names its successor. Exit 0 with both pids; 1 when the file cannot be read, the
 * process cannot be signalled, or no successor took over within `--timeout` (the old process
 * then still serves, and its log says why).
 */
import { setTimeout as delay } from 'node:timers/promises'
import { readPidFile } from '../lifecycle/pid-file.ts'
import type { CliIo } from './run.ts'

export interface UpgradeOptions {
  readonly pidFile: string | undefined
  readonly timeoutMs: number
}

const POLL_MS = 50

export async function upgradeCommand(opts: UpgradeOptions, io: CliIo): Promise<number> {
  if (opts.pidFile === undefined) {
    io.err('hitless upgrade: --pid-file FILE is required (the running gateway writes it)')
    return 2
  }
  let oldPid: number
  try {
    oldPid = readPidFile(opts.pidFile)
    process.kill(oldPid, 'SIGUSR2')
  } catch (err) {
    io.err(`hitless upgrade: ${(err as Error).message}`)
    return 1
  }
  const deadline = Date.now() + opts.timeoutMs
  while (Date.now() < deadline) {
    await delay(POLL_MS)
    let pid: number
    try {
      pid = readPidFile(opts.pidFile)
    } catch {
      continue
    }
    if (pid !== oldPid && isAlive(pid)) {
      io.out(`upgraded: process ${pid} serves; ${oldPid} is draining`)
      return 0
    }
    if (!isAlive(oldPid)) break
  }
  io.err(
    `hitless upgrade: no new process took over from ${oldPid} within ${opts.timeoutMs} ms; ` +
      'see its log for the reason (it keeps serving when the new process fails)',
  )
  return 1
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

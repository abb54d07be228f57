/**
 * `hitless reload`: ask a running gateway to reload its config, through the admin API
 * (`--admin URL`, with the bearer token from `--token-env NAME`, default HITLESS_ADMIN_TOKEN)
 * or by sending SIGHUP to the pid in `--pid-file`. Through the admin API the outcome comes
 * back: exit 0 when applied or unchanged, 1 with every error when the document was rejected.
 */
import { readPidFile } from '../lifecycle/pid-file.ts'
import { request } from 'undici'
import { formatConfigIssue, type ConfigIssue } from '../errors.ts'
import type { CliIo } from './run.ts'

export interface ReloadOptions {
  readonly admin: string | undefined
  readonly pidFile: string | undefined
  readonly tokenEnv: string
  readonly env: Readonly<Record<string, string | undefined>>
}

export interface Outcome {
  readonly outcome?: string
  readonly version?: string
  readonly previous?: string | null
  /** A canary's stable version. */
  readonly stable?: string
  readonly errors?: readonly ConfigIssue[]
}

/** Runs the command; resolves with the exit code. */
export async function reloadCommand(opts: ReloadOptions, io: CliIo): Promise<number> {
  if (opts.pidFile !== undefined) return signalPid(opts.pidFile, io)
  const base = (opts.admin ?? 'http://127.0.0.1:9901').replace(/\/+$/, '')
  const token = opts.env[opts.tokenEnv]
  let status: number
  let answer: Outcome
  try {
    const res = await request(`${base}/reload`, {
      method: 'POST',
      headers: token === undefined || token === '' ? {} : { authorization: `Bearer ${token}` },
    })
    status = res.statusCode
    answer = (await res.body.json()) as Outcome
  } catch (err) {
    io.err(`hitless reload: cannot reach the admin API at ${base}: ${(err as Error).message}`)
    return 1
  }
  return report(status, answer, io)
}

/** Prints what the admin API answered; the exit code. */
export function report(status: number, answer: Outcome, io: CliIo): number {
  if (answer.outcome === 'applied') {
    io.out(`applied: version ${answer.version ?? '?'} (was ${answer.previous ?? 'none'})`)
    return 0
  }
  if (answer.outcome === 'unchanged') {
    io.out(`unchanged: version ${answer.version ?? '?'} is already running`)
    return 0
  }
  if (answer.outcome === 'canary') {
    io.out(
      `canary: version ${answer.version ?? '?'} runs beside ${answer.stable ?? '?'} (a staged roll-out: GET /rollout to watch it)`,
    )
    return 0
  }
  if (answer.outcome === 'rejected') {
    io.err('rejected: the running config keeps serving; errors:')
    for (const issue of answer.errors ?? []) io.err(`  ${formatConfigIssue(issue)}`)
    return 1
  }
  io.err(`hitless reload: unexpected answer (HTTP ${status}): ${JSON.stringify(answer)}`)
  return 1
}

function signalPid(pidFile: string, io: CliIo): number {
  let pid: number
  try {
    pid = readPidFile(pidFile)
  } catch (err) {
    io.err(`hitless reload: ${(err as Error).message}`)
    return 1
  }
  try {
    process.kill(pid, 'SIGHUP')
  } catch (err) {
    io.err(`hitless reload: cannot signal process ${pid}: ${(err as Error).message}`)
    return 1
  }
  io.out(`sent SIGHUP to ${pid}; the outcome is in its log and at GET /config/history`)
  return 0
}

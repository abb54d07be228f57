/**
 * `hitless validate -c FILE`: load and validate a config without starting anything. Prints one
 * summary line (exit 0) or every issue as `FILE:LINE:COL: path: message` (exit 1), never a stack.
 */
import type { ConfigIssue } from '../errors.ts'
import { formatConfigIssue } from '../errors.ts'
import type { LoadedConfig } from '../config/load.ts'
import { isConfigError, loadConfigFile } from '../config/load.ts'

/** Where the command writes: `out` for the success summary, `err` for issues. */
export interface CommandIo {
  readonly out: (line: string) => void
  readonly err: (line: string) => void
}

/** Options of `hitless validate`. */
export interface ValidateOptions {
  readonly configPath: string
  readonly env: Readonly<Record<string, string | undefined>>
  /** `--etcd` was given: etcd discovery may use that cluster (as in fleet mode). */
  readonly etcdCluster?: boolean
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}

/** The success line: `ok: FILE — 1 listener, 3 upstreams, 5 routes (version 1a2b3c4d5e6f)`. */
export function summaryLine(path: string, loaded: LoadedConfig): string {
  const { listeners, upstreams, routes } = loaded.config
  const counts = [
    plural(listeners.length, 'listener'),
    plural(upstreams.length, 'upstream'),
    plural(routes.length, 'route'),
  ].join(', ')
  return `ok: ${path} — ${counts} (version ${loaded.version})`
}

/**
 * One issue as an editor-clickable line: `FILE:LINE:COL: path: message (did you mean "x"?)`,
 * or `FILE: path: message` when the position is unknown.
 */
export function issueLine(path: string, issue: ConfigIssue): string {
  const where = issue.line === null ? path : `${path}:${issue.line}:${issue.column ?? 1}`
  // formatConfigIssue puts a known position after the path; here it leads the line instead.
  return `${where}: ${formatConfigIssue({ ...issue, line: null, column: null })}`
}

/** Runs `hitless validate`; resolves to the process exit code (0 valid, 1 invalid). */
export async function validateCommand(opts: ValidateOptions, io: CommandIo): Promise<number> {
  try {
    io.out(
      summaryLine(
        opts.configPath,
        await loadConfigFile(opts.configPath, opts.env, opts.etcdCluster === true),
      ),
    )
    return 0
  } catch (err) {
    if (!isConfigError(err)) {
      // loadConfigFile throws only ConfigError; this guards the promise of "never a stack trace".
      io.err(
        `${opts.configPath}: internal error: ${err instanceof Error ? err.message : String(err)}`,
      )
      return 1
    }
    for (const issue of err.issues) io.err(issueLine(opts.configPath, issue))
    io.err(`invalid: ${opts.configPath} — ${plural(err.issues.length, 'error')}`)
    return 1
  }
}

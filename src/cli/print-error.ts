/**
 * Human output for errors that stop a command: config issues one per line with their place,
 * other gateway errors as one line with their code. Never a stack trace.
 */
import { formatConfigIssue } from '../errors.ts'

/** Prints why the gateway could not start. */
export function printStartError(
  err: unknown,
  configPath: string,
  io: { readonly err: (line: string) => void },
): void {
  const e = err as { code?: unknown; issues?: unknown; message?: unknown }
  if (Array.isArray(e.issues)) {
    io.err(`hitless: ${configPath}: the config is invalid:`)
    for (const issue of e.issues as Parameters<typeof formatConfigIssue>[0][]) {
      io.err(`  ${formatConfigIssue(issue)}`)
    }
    return
  }
  const code = typeof e.code === 'string' ? ` [${e.code}]` : ''
  io.err(`hitless: cannot start${code}: ${typeof e.message === 'string' ? e.message : String(err)}`)
}

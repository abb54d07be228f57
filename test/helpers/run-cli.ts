/**
 * Runs the compiled `hitless` executable (build/src/cli/main.js) to completion, as a user would,
 * and returns its exit code and output. Bounded: killed after 15 s.
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))

export interface CliOutcome {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** `hitless ...args` with this process's environment plus `env`. */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<CliOutcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { timeout: 15_000, env: { ...process.env, ...env } },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1
        resolve({ code, stdout, stderr })
      },
    )
  })
}

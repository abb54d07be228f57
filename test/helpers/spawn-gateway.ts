/**
 * Runs the real CLI (`build/src/cli/main.js run -c FILE`) as a child process, so that its memory
 * can be measured alone: the config is written to a temporary JSON file, the bound port is read
 * from the `hitless serving on` log line, and `close()` stops the child by PID (SIGTERM, then
 * SIGKILL if it lingers) and removes the file. `configPath` lets a test rewrite the file (the CLI
 * watches it) and `adminUrl` reaches the admin API when the config has one.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseLogLine } from './log-lines.ts'

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))

export interface SpawnedGateway {
  readonly pid: number
  readonly child: ChildProcess
  /** `http://127.0.0.1:PORT` of the first listener. */
  readonly url: string
  readonly port: number
  /** The temporary config file the CLI runs on (removed by `close()`). */
  readonly configPath: string
  /** `http://ADDRESS` of the admin listener from the serving line, or null without `admin`. */
  readonly adminUrl: string | null
  /** Every stdout line parsed as JSON (non-JSON lines are kept as `{ raw }`). */
  readonly logs: Record<string, unknown>[]
  close(): Promise<void>
}

interface ServingLine {
  readonly msg?: string
  readonly listeners?: readonly { readonly name: string; readonly address: string }[]
  readonly admin?: string | null
}

/** Starts the CLI on `config` (listeners default to one on 127.0.0.1:0). */
export async function spawnGateway(
  config: Record<string, unknown>,
  opts: {
    timeoutMs?: number
    logLevel?: 'debug' | 'info' | 'warn'
    /** Extra environment variables for the child (added to this process's). */
    env?: Record<string, string>
  } = {},
): Promise<SpawnedGateway> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hitless-spawn-'))
  const file = path.join(dir, 'config.json')
  const doc = { listeners: [{ name: 'public', address: '127.0.0.1:0' }], ...config }
  await writeFile(file, JSON.stringify(doc))
  const child = spawn(
    process.execPath,
    [CLI, 'run', '-c', file, '--log-level', opts.logLevel ?? 'info'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } },
  )
  const pid = child.pid
  if (pid === undefined) {
    await rm(dir, { recursive: true, force: true })
    throw new Error('could not spawn the gateway CLI')
  }
  const logs: Record<string, unknown>[] = []
  let stderr = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (d: string) => (stderr += d))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  // Last resort if the test process ends without close() (a cancelled hook): no orphan.
  const killOnExit = (): void => {
    if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', killOnExit)

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(pid, 'SIGTERM')
      const timer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL')
      }, 5000)
      await exited
      clearTimeout(timer)
    }
    process.removeListener('exit', killOnExit)
    await rm(dir, { recursive: true, force: true })
  }

  try {
    let adminUrl: string | null = null
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`gateway did not start in time; stderr: ${stderr}`)),
        opts.timeoutMs ?? 10_000,
      )
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`gateway exited with ${String(code)} before serving; stderr: ${stderr}`))
      })
      const lines = createInterface({ input: child.stdout })
      lines.on('line', (line) => {
        const parsed = parseLogLine(line)
        logs.push(parsed)
        const serving = parsed as ServingLine
        const address = serving.listeners?.[0]?.address
        if (serving.msg?.startsWith('hitless serving on') === true && address !== undefined) {
          clearTimeout(timer)
          if (typeof serving.admin === 'string') adminUrl = `http://${serving.admin}`
          resolve(Number(address.slice(address.lastIndexOf(':') + 1)))
        }
      })
    })
    const url = `http://127.0.0.1:${port}`
    return { pid, child, url, port, configPath: file, adminUrl, logs, close: stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/** Resident set size of process `pid` in bytes, from /proc (Linux only). */
export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(m[1]) * 1024
}

/**
 * Samples the RSS of `pid` every `intervalMs` until `stop()` is called; `stop()` resolves to
 * the largest value seen (including one final sample).
 */
export function sampleRss(pid: number, intervalMs = 50): { stop(): Promise<number> } {
  let max = 0
  let pending: Promise<void> = Promise.resolve()
  const sample = (): void => {
    pending = rssOf(pid).then(
      (v) => void (max = Math.max(max, v)),
      () => undefined,
    )
  }
  sample()
  const timer = setInterval(sample, intervalMs)
  return {
    async stop() {
      clearInterval(timer)
      await pending
      sample()
      await pending
      return max
    },
  }
}

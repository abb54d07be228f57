/**
 * A real etcd server for a test: Debian's `etcd` binary (package etcd-server, which .ci/run
 * installs; HITLESS_ETCD_BIN overrides the path), one member, listening on an ephemeral loopback
 * port, with its data in a fresh temporary directory. `stop()` ends it by PID (SIGTERM, then
 * SIGKILL) and keeps the data; `restart()` starts it again on the same port and data, as an
 * outage would end; `close()` stops it and removes the data.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'

const ETCD = process.env['HITLESS_ETCD_BIN'] ?? '/usr/bin/etcd'

export interface EtcdServer {
  /** `http://127.0.0.1:PORT`, the client URL. */
  readonly url: string
  readonly port: number
  /** PID of the running server (changes with `restart()`). */
  readonly pid: number
  /** The server's output so far (for failure messages). */
  readonly output: () => string
  stop(): Promise<void>
  restart(): Promise<void>
  close(): Promise<void>
}

interface Running {
  readonly child: ChildProcess
  readonly pid: number
  readonly exited: Promise<void>
  readonly port: number
}

export async function startEtcd(timeoutMs = 15_000): Promise<EtcdServer> {
  if (!existsSync(ETCD)) {
    throw new Error(
      `etcd not found at ${ETCD}: install Debian's etcd-server (apt-get install -y etcd-server, ` +
        'as .ci/run does) or set HITLESS_ETCD_BIN',
    )
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hitless-etcd-'))
  let output = ''
  let current: Running | null = null
  const killOnExit = (): void => {
    if (current !== null) killQuietly(current.pid)
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', killOnExit)

  const launch = async (port: number): Promise<Running> => {
    const client = `http://127.0.0.1:${port}`
    const child = spawn(
      ETCD,
      [
        '--name=test',
        `--data-dir=${path.join(dir, 'data')}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        '--listen-peer-urls=http://127.0.0.1:0',
        '--initial-advertise-peer-urls=http://127.0.0.1:0',
        '--initial-cluster=test=http://127.0.0.1:0',
        // Keep the server quiet and quick: no metrics listener, short raft ticks.
        '--heartbeat-interval=50',
        '--election-timeout=500',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    const pid = child.pid
    if (pid === undefined) throw new Error(`could not spawn ${ETCD}`)
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    const bound = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        killQuietly(pid)
        reject(new Error(`etcd did not serve within ${timeoutMs} ms:\n${output}`))
      }, timeoutMs)
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`etcd exited with ${String(code)} before serving:\n${output}`))
      })
      const lines = createInterface({ input: child.stderr })
      lines.on('line', (line) => {
        output += line + '\n'
        // capnslog: "serving insecure client requests on 127.0.0.1:PORT, this is …"
        const m = /serving insecure client requests on 127\.0\.0\.1:(\d+)/.exec(line)
        if (m !== null) {
          clearTimeout(timer)
          resolve(Number(m[1]))
        }
      })
    })
    return { child, pid, exited, port: bound }
  }

  const halt = async (): Promise<void> => {
    const running = current
    if (running === null) return
    current = null
    if (running.child.exitCode === null && running.child.signalCode === null) {
      running.child.kill('SIGTERM')
      const timer = setTimeout(() => killQuietly(running.pid), 5000)
      await running.exited
      clearTimeout(timer)
    }
  }

  try {
    current = await launch(0)
  } catch (err) {
    process.removeListener('exit', killOnExit)
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  const port = current.port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get pid() {
      return current?.pid ?? -1
    },
    output: () => output,
    stop: halt,
    restart: async () => {
      await halt()
      current = await launch(port)
    },
    close: async () => {
      await halt()
      process.removeListener('exit', killOnExit)
      await rm(dir, { recursive: true, force: true })
    },
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

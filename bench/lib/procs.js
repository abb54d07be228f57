// Child processes of the bench: every one is started here, remembered by PID, and killed by PID
// at the end of its phase, on SIGINT/SIGTERM and on any exception (see run.js). Also the
// readiness helpers: free ports, "listening PORT" lines, and polling for a TCP accept.
import { spawn, execFileSync } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

/** @type {Map<number, import('node:child_process').ChildProcess>} */
const live = new Map()

/**
 * Core layout: the load generator on core 0, the server under test on core 1. `origin` is where
 * run.js puts nginx: core 0 too, so that the proxy has core 1 to itself and its CPU per request
 * is not inflated by switching with nginx on every request (reload.js keeps nginx on core 1).
 * Unpinned when fewer than 2 cores.
 */
export function pinning() {
  const cores = Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || os.cpus().length
  return cores >= 2
    ? { enabled: true, cores, load: '0', server: '1', origin: '0' }
    : { enabled: false, cores, load: null, server: null, origin: null }
}

/**
 * Starts `cmd args` (under `taskset -c CORE` when core is set). taskset execs the program, so the
 * PID we get is the PID of the program itself, which is what /proc/PID/stat is read for.
 * stdout/stderr: 'pipe' | 'ignore' (/dev/null); stderr goes to errFile when that is given.
 */
export function start(cmd, args, opts = {}) {
  const { core = null, env, stdout = 'pipe', stderr = 'ignore', errFile, cwd } = opts
  const argv = core === null ? [cmd, ...args] : ['taskset', '-c', core, cmd, ...args]
  const errFd = errFile ? fs.openSync(errFile, 'a') : stderr
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', stdout, errFd],
    env: { ...process.env, ...env },
    cwd,
  })
  if (typeof errFd === 'number') fs.closeSync(errFd)
  const exited = once(child, 'exit').then(
    ([code, signal]) => ({ code, signal }),
    (error) => ({ code: null, signal: null, error }),
  )
  exited.finally(() => live.delete(child.pid))
  child.exited = exited
  if (child.pid === undefined) throw new Error(`could not start ${argv.join(' ')}`)
  live.set(child.pid, child)
  return child
}

/** Stops one child by PID: SIGTERM, then SIGKILL after graceMs. Resolves when it has exited. */
export async function stop(child, graceMs = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return
  signal(child.pid, 'SIGTERM')
  const timer = setTimeout(() => signal(child.pid, 'SIGKILL'), graceMs)
  await child.exited
  clearTimeout(timer)
}

/** Stops every child still alive. */
export async function stopAll() {
  await Promise.all([...live.values()].map((c) => stop(c)))
}

/** Last resort from process.on('exit'): synchronous SIGKILL of whatever is left. */
export function killAllSync() {
  for (const pid of live.keys()) signal(pid, 'SIGKILL')
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig)
  } catch {
    // already gone
  }
}

/** A port that was free a moment ago (listen on 0, read it, close); for servers that cannot
 * report the port they bound (nginx, hitless with a config file). */
export async function freePort() {
  const srv = net.createServer()
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const { port } = srv.address()
  srv.close()
  await once(srv, 'close')
  return port
}

/** Waits for the child to print "listening PORT" on stdout; rejects if it exits first. */
export function readListeningPort(child, timeoutMs = 15_000) {
  return new Promise((resolve, reject) => {
    let buf = ''
    const timer = setTimeout(() => reject(new Error('no "listening PORT" line in time')), timeoutMs)
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk) => {
      buf += chunk
      const m = /listening (\d+)/.exec(buf)
      if (m) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    })
    child.exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`exited (code ${code}, signal ${signal}) before listening`))
    })
  })
}

/** Polls until 127.0.0.1:port accepts a TCP connection (bounded), instead of sleeping. */
export async function waitForAccept(port, { child, timeoutMs = 15_000, intervalMs = 25 } = {}) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(
        `exited (code ${child.exitCode}, signal ${child.signalCode}) before accepting`,
      )
    }
    if (await canConnect(port)) return
    if (Date.now() > deadline)
      throw new Error(`127.0.0.1:${port} did not accept in ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

function canConnect(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port })
    sock.once('connect', () => {
      sock.destroy()
      resolve(true)
    })
    sock.once('error', () => resolve(false))
  })
}

/** Runs a program to completion (SIGKILL after timeoutMs if given) and returns its output. */
export async function run(cmd, args, { core = null, env, timeoutMs } = {}) {
  const child = start(cmd, args, { core, env, stdout: 'pipe', stderr: 'pipe' })
  const closed = once(child, 'close').catch(() => {})
  const timer = timeoutMs && setTimeout(() => signal(child.pid, 'SIGKILL'), timeoutMs)
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d))
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d))
  const exit = await child.exited
  clearTimeout(timer)
  await closed
  return { code: exit.code, signal: exit.signal, out, err }
}

/** Last lines of a log file, for error messages. */
export function tail(file, lines = 15) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return ''
  }
}

/**
 * A benchmark's entry: runs `main(tmpDir)` in a fresh temp dir. On SIGINT/SIGTERM, on failure
 * and at the end every child still alive is stopped by PID (SIGKILL from process.on('exit') as a
 * last resort); the temp dir is removed, or kept with keepTmp and after a failure.
 */
export function runWithCleanup(main, { keepTmp = false, log, prefix = 'hitless-bench-' }) {
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  let keep = keepTmp
  let cleaning
  const cleanup = () =>
    (cleaning ??= stopAll().finally(() => {
      if (keep) log(`temp dir kept: ${tmpDir}`)
      else fs.rmSync(tmpDir, { recursive: true, force: true })
    }))
  const onSignal = (sig, code) =>
    process.on(sig, () => {
      log(`${sig}: stopping every child process`)
      cleanup().finally(() => process.exit(code))
    })
  onSignal('SIGINT', 130)
  onSignal('SIGTERM', 143)
  process.on('exit', killAllSync)
  main(tmpDir).then(cleanup, async (err) => {
    log(`FAILED: ${err.stack ?? err}`)
    keep = true
    await cleanup()
    process.exitCode = 1
  })
}

// The candidates: what stands between the load generator and nginx. Each one is started (pinned to the server
// core), reports or is given its port, and is then checked with a few real requests.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { freePort, readListeningPort, run, start, stop, tail, waitForAccept } from './procs.js'

/**
 * @typedef {object} Ctx
 * @property {string} benchDir  @property {string} repoDir  @property {string} tmpDir
 * @property {{ url: string, port: number, pid: number }} origin
 * @property {string | null} core  the server core for taskset, or null when unpinned
 *
 * @typedef {object} Running
 * @property {number} pid  process whose CPU is charged to the candidate
 * @property {number} port  @property {string} pathPrefix  added in front of every origin path
 * @property {() => Promise<void>} stop
 */

/**
 * Node script candidates in bench/candidates/: they bind port 0 and print "listening PORT".
 * `env` is added to ORIGIN_URL; `pathPrefix` goes in front of every origin path.
 */
function scriptCandidate(name, file, { env = {}, pathPrefix = '', unavailable = () => null } = {}) {
  return {
    name,
    unavailable,
    async start(ctx) {
      const errFile = path.join(ctx.tmpDir, `${name}.stderr.log`)
      const script = path.join(ctx.benchDir, 'candidates', file)
      const child = start(process.execPath, [script], {
        core: ctx.core,
        env: { ORIGIN_URL: ctx.origin.url, ...env },
        errFile,
        cwd: ctx.benchDir,
      })
      try {
        const port = await readListeningPort(child)
        child.stdout.resume()
        await waitForAccept(port, { child })
        return { pid: child.pid, port, pathPrefix, stop: () => stop(child) }
      } catch (err) {
        await stop(child)
        throw new Error(`${name} did not start: ${err.message}\n${tail(errFile)}`)
      }
    },
  }
}

const direct = {
  name: 'direct',
  unavailable: () => null,
  // h2load talks to nginx itself; the "proxy CPU" of this row is nginx's own.
  start: async (ctx) => ({
    pid: ctx.origin.pid,
    port: ctx.origin.port,
    pathPrefix: '',
    stop: async () => {},
  }),
}

const HITLESS_PREFIX = '/b'

/** dist/cli/main.js of this repository, or BENCH_HITLESS_CLI (another build, e.g. a branch's). */
export function hitlessMain(ctx) {
  const override = process.env.BENCH_HITLESS_CLI
  return override ? path.resolve(override) : path.join(ctx.repoDir, 'dist', 'cli', 'main.js')
}

/** Which hitless build was measured: the CLI path, its mtime and the repository's commit. */
export function hitlessBuild(ctx) {
  const main = hitlessMain(ctx)
  if (!fs.existsSync(main)) return null
  const git = (...args) =>
    spawnSync('git', args, { cwd: ctx.repoDir, encoding: 'utf8' }).stdout?.trim()
  return {
    cli: path.relative(ctx.repoDir, main),
    builtAt: fs.statSync(main).mtime.toISOString(),
    commit: git('rev-parse', '--short', 'HEAD') || null,
    // Uncommitted changes under src/ may or may not be in the build: the report says so.
    srcDirty: Boolean(git('status', '--porcelain', '--', 'src')),
  }
}

/**
 * Starts `hitless run -c file` (dist/cli/main.js or BENCH_HITLESS_CLI) pinned to ctx.core and
 * waits until `port` accepts. stdout ('ignore' or 'pipe') carries pino's logs; stderr goes to
 * tmpDir/<name>.stderr.log; nodeArgs go before the script (e.g. --cpu-prof), args after
 * `run` (e.g. --workers 2). On failure the
 * child is stopped and the error says what `hitless validate` thinks of the config.
 */
export async function startHitlessCli(ctx, opts) {
  const {
    file,
    port,
    env = {},
    stdout = 'ignore',
    logLevel = 'info',
    nodeArgs = [],
    args = [],
  } = opts
  const name = opts.name ?? 'hitless'
  const errFile = path.join(ctx.tmpDir, `${name}.stderr.log`)
  const main = hitlessMain(ctx)
  const child = start(
    process.execPath,
    [...nodeArgs, main, 'run', '-c', file, '--log-level', logLevel, ...args],
    { core: ctx.core, env, stdout, errFile, cwd: ctx.repoDir },
  )
  try {
    await waitForAccept(port, { child, timeoutMs: opts.timeoutMs ?? 20_000 })
    return child
  } catch (err) {
    await stop(child)
    // Its logs may have gone to /dev/null: ask `hitless validate` what it thinks of the config.
    const v = await run(process.execPath, [main, 'validate', '-c', file], {
      env,
      timeoutMs: 10_000,
    })
    const why = `${v.out}${v.err}`.trim().split('\n').slice(-15).join('\n')
    throw new Error(`${name} did not start: ${err.message}\n${tail(errFile)}\nvalidate: ${why}`)
  }
}

const hitless = {
  name: 'hitless',
  unavailable(ctx) {
    const main = hitlessMain(ctx)
    return fs.existsSync(main)
      ? null
      : `not yet measured: ${path.relative(ctx.repoDir, main)} is missing (run \`npm run build\` first)`
  },
  async start(ctx) {
    const port = await freePort()
    const env = { ORIGIN_PORT: String(ctx.origin.port), HITLESS_PORT: String(port) }
    // The template uses ${ORIGIN_PORT} and ${HITLESS_PORT}; they are filled in here (and also
    // passed in the environment, where hitless's own interpolation would find them).
    const template = fs.readFileSync(path.join(ctx.benchDir, 'configs', 'hitless.yaml'), 'utf8')
    const file = path.join(ctx.tmpDir, 'hitless.yaml')
    fs.writeFileSync(
      file,
      template.replace(/\$\{(ORIGIN_PORT|HITLESS_PORT)\}/g, (_, k) => env[k]),
    )
    // stdout carries pino's logs, one access-log line per request at info: sent to /dev/null.
    const child = await startHitlessCli(ctx, { file, port, env })
    return { pid: child.pid, port, pathPrefix: HITLESS_PREFIX, stop: () => stop(child) }
  },
}

/** hitless as a library with `count` no-op middleware (bench/candidates/hitless-library.js). */
function libraryCandidate(count) {
  return scriptCandidate(`hitless-lib-${count}`, 'hitless-library.js', {
    env: { MIDDLEWARE: String(count) },
    pathPrefix: HITLESS_PREFIX,
    unavailable(ctx) {
      const index = path.join(ctx.repoDir, 'dist', 'index.js')
      return fs.existsSync(index)
        ? null
        : `not yet measured: ${path.relative(ctx.repoDir, index)} is missing (run \`npm run build\` first)`
    },
  })
}

export const CANDIDATES = [
  direct,
  hitless,
  scriptCandidate('minimal', 'minimal-proxy.js'),
  scriptCandidate('fastify-http-proxy', 'fastify-http-proxy.js'),
  scriptCandidate('http-proxy', 'http-proxy.js'),
  // Only when asked for by name (bench/middleware.js): not part of the default run.
  ...[0, 1, 5].map((n) => ({ ...libraryCandidate(n), onlyByName: true })),
]

/** Candidates selected by --only (names), in the canonical order. */
export function selectCandidates(only) {
  if (!only?.length) return CANDIDATES.filter((c) => !c.onlyByName)
  const unknown = only.filter((n) => !CANDIDATES.some((c) => c.name === n))
  if (unknown.length) {
    throw new Error(
      `unknown candidate ${unknown.join(', ')}; known: ${CANDIDATES.map((c) => c.name).join(', ')}`,
    )
  }
  return CANDIDATES.filter((c) => only.includes(c.name))
}

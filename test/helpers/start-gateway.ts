/**
 * Starts an in-process gateway on 127.0.0.1 port 0 from a config object, with logs collected
 * in memory (parsed JSON lines) instead of stdout.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { createGateway, type Gateway } from '../../src/gateway.ts'
import { createLogger } from '../../src/log/logger.ts'

/** One parsed log line; the access-log fields are named so tests can read them directly. */
export interface LogLine {
  readonly [key: string]: unknown
  readonly level?: number
  readonly msg?: string
  readonly method?: string
  readonly path?: string
  readonly status?: number
  readonly bytes?: number
  readonly duration_ms?: number
  readonly route?: string | null
  readonly upstream?: string | null
  readonly target?: string | null
  readonly request_id?: string
  readonly config_version?: string
  readonly error?: string
}

export interface TestGateway {
  readonly gateway: Gateway
  /** `http://127.0.0.1:PORT` of the first listener. */
  readonly url: string
  readonly port: number
  readonly adminUrl: string | null
  readonly logs: LogLine[]
  close(): Promise<void>
}

export function collectingLogger(logs: LogLine[], level: 'debug' | 'info' = 'info') {
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') logs.push(JSON.parse(line) as LogLine)
      }
      done()
    },
  })
  return createLogger({ level, destination })
}

export async function startGateway(
  config: Record<string, unknown>,
  opts: { env?: Record<string, string>; random?: () => number } = {},
): Promise<TestGateway> {
  const logs: LogLine[] = []
  const doc = {
    listeners: [{ name: 'public', address: '127.0.0.1:0' }],
    ...config,
  }
  const gateway = createGateway({
    config: doc,
    env: opts.env ?? {},
    logger: collectingLogger(logs),
    ...(opts.random === undefined ? {} : { random: opts.random }),
  })
  await gateway.start()
  return {
    gateway,
    ...boundUrls(gateway),
    logs,
    close: () => gateway.close(),
  }
}

export interface FileGateway extends TestGateway {
  /** The config file the gateway watches. */
  readonly path: string
  /** Replaces the config file's content (in place). */
  write(config: Record<string, unknown> | string): Promise<void>
}

/**
 * Starts a gateway on a config file in a fresh temp dir (JSON, so objects can be written),
 * watching it with a short debounce. The listener defaults to 127.0.0.1:0.
 */
export async function startFileGateway(
  config: Record<string, unknown>,
  opts: { env?: Record<string, string>; debounceMs?: number; logLevel?: 'debug' | 'info' } = {},
): Promise<FileGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'hitless-reload-'))
  const path = join(dir, 'hitless.json')
  const withListener = (c: Record<string, unknown>): Record<string, unknown> => ({
    listeners: [{ name: 'public', address: '127.0.0.1:0' }],
    ...c,
  })
  const write = async (c: Record<string, unknown> | string): Promise<void> => {
    await writeFile(path, typeof c === 'string' ? c : JSON.stringify(withListener(c), null, 2))
  }
  await write(config)
  const logs: LogLine[] = []
  const gateway = createGateway({
    configPath: path,
    watch: true,
    watchDebounceMs: opts.debounceMs ?? 30,
    env: opts.env ?? {},
    logger: collectingLogger(logs, opts.logLevel ?? 'info'),
  })
  await gateway.start()
  return {
    gateway,
    path,
    ...boundUrls(gateway),
    logs,
    write,
    close: async () => {
      await gateway.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** The first listener's URL and port, and the admin URL, of a started gateway. */
function boundUrls(gateway: Gateway): { url: string; port: number; adminUrl: string | null } {
  const address = gateway.addresses.listeners[0]?.address ?? ''
  const port = Number(address.slice(address.lastIndexOf(':') + 1))
  const admin = gateway.addresses.admin
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    adminUrl: admin === null ? null : `http://${admin}`,
  }
}

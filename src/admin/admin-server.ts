/**
 * The admin API on its own listener (loopback by default): /healthz, /readyz, /metrics, and the
 * routes later subsystems add. With a token configured every call but /healthz and /readyz
 * needs `Authorization: Bearer <token>`. Answers are JSON (Prometheus text for /metrics).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import { timingSafeEqual } from 'node:crypto'
import type { ListenAddress } from '../config/types.ts'
import { ErrorCode, publicMessageOf, statusOf } from '../errors.ts'
import type { Logger } from '../log/logger.ts'
import { listenOn } from '../util/listen.ts'
import type { GatewayMetrics } from '../metrics/metrics.ts'
import { BUILD_ID, VERSION } from '../version.ts'

/** One admin route: answers with a status and a JSON-serialisable body, or raw text. */
export type AdminRoute = (req: IncomingMessage, body: string) => Promise<AdminReply> | AdminReply

export type AdminReply =
  | { readonly status: number; readonly json: unknown }
  | { readonly status: number; readonly text: string; readonly contentType: string }

export interface AdminDeps {
  /** The exposition of /metrics (one process's registry, or every worker's merged). */
  readonly metrics: Pick<GatewayMetrics, 'render'>
  /** 200 on /readyz while true, 503 otherwise (starting, draining). */
  readonly isReady: () => boolean
  /** The bearer token, or null when none is configured (read per call: reloads change it). */
  readonly token: () => string | null
  readonly logger: Logger
  /** Further routes keyed by `METHOD /path` (e.g. `POST /reload`). */
  readonly routes?: ReadonlyMap<string, AdminRoute>
}

const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz'])
const MAX_ADMIN_BODY_BYTES = 1024 * 1024

/** The admin request handler. */
export function createAdminHandler(
  deps: AdminDeps,
): (req: IncomingMessage, res: ServerResponse) => void {
  const routes = new Map<string, AdminRoute>([
    [
      'GET /healthz',
      () => ({
        status: 200,
        json: { status: 'ok', pid: process.pid, version: VERSION, build: BUILD_ID },
      }),
    ],
    [
      'GET /readyz',
      () =>
        deps.isReady()
          ? { status: 200, json: { status: 'ready' } }
          : { status: 503, json: { status: 'not ready' } },
    ],
    [
      'GET /metrics',
      async () => {
        const { body, contentType } = await deps.metrics.render()
        return { status: 200, text: body, contentType }
      },
    ],
    ...(deps.routes ?? new Map<string, AdminRoute>()),
  ])
  return (req, res) => {
    void serve(req, res, routes, deps).catch((err: unknown) => {
      deps.logger.error({ err }, 'admin request failed')
      reply(res, { status: 500, json: { error: publicMessageOf(ErrorCode.INTERNAL), status: 500 } })
    })
  }
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  routes: ReadonlyMap<string, AdminRoute>,
  deps: AdminDeps,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/'
  const token = deps.token()
  if (token !== null && !OPEN_PATHS.has(path) && !authorized(req, token)) {
    const status = statusOf(ErrorCode.ADMIN_UNAUTHORIZED)
    res.setHeader('www-authenticate', 'Bearer')
    reply(res, { status, json: { error: publicMessageOf(ErrorCode.ADMIN_UNAUTHORIZED), status } })
    return
  }
  const route = routes.get(`${req.method ?? 'GET'} ${path}`)
  if (route === undefined) {
    const known = [...routes.keys()].some((k) => k.endsWith(` ${path}`))
    const status = known ? 405 : 404
    reply(res, { status, json: { error: known ? 'method not allowed' : 'not found', status } })
    return
  }
  const body = await readBody(req)
  reply(res, await route(req, body))
}

function authorized(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization ?? ''
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '')
  const expected = Buffer.from(token)
  // Constant-time compare: the token must not leak through response timing.
  return given.length === expected.length && timingSafeEqual(given, expected)
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_ADMIN_BODY_BYTES) throw new Error('admin request body too large')
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function reply(res: ServerResponse, answer: AdminReply): void {
  if (res.headersSent) return
  const isJson = 'json' in answer
  const body = isJson ? JSON.stringify(answer.json) + '\n' : answer.text
  res.writeHead(answer.status, {
    'content-type': isJson ? 'application/json' : answer.contentType,
    'content-length': Buffer.byteLength(body),
  })
  res.end(body)
}

/** Opens the admin listener (on the inherited socket `fd` when given). */
export async function openAdminServer(
  address: ListenAddress,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  fd?: number,
): Promise<http.Server> {
  const server = http.createServer({ requestTimeout: 30_000, keepAliveTimeout: 5_000 }, handler)
  await listenOn(server, address, fd)
  return server
}

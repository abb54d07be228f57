/**
 * Admin routes of the reload pipeline: GET /config (the running document, secrets redacted),
 * GET /config/history, POST /reload and POST /rollback. The commands are handed in by
 * gateway.ts; this module only translates HTTP to them and back.
 */
import type { CurrentConfig, HistoryEntry, ReloadResult } from '../../lifecycle/reload.ts'
import type { AdminReply, AdminRoute } from '../admin-server.ts'
import { redact } from './redact.ts'

/** What the routes need from the gateway. */
export interface ConfigCommands {
  readonly reloads: {
    readonly current: CurrentConfig | null
    readonly history: readonly HistoryEntry[]
  }
  reload(config?: unknown, source?: 'admin'): Promise<ReloadResult>
  rollback(version: string): Promise<ReloadResult | null>
}

/** The route table, keyed by `METHOD /path`. */
export function configRoutes(commands: ConfigCommands): ReadonlyMap<string, AdminRoute> {
  return new Map<string, AdminRoute>([
    ['GET /config', () => currentConfig(commands)],
    ['GET /config/history', () => ({ status: 200, json: { history: commands.reloads.history } })],
    [
      'POST /reload',
      async (_req, body) =>
        replyOf(await commands.reload(body.trim() === '' ? undefined : body, 'admin')),
    ],
    ['POST /rollback', async (_req, body) => rollback(commands, body)],
  ])
}

function currentConfig(commands: ConfigCommands): AdminReply {
  const current = commands.reloads.current
  if (current === null)
    return { status: 503, json: { error: 'no config applied yet', status: 503 } }
  return {
    status: 200,
    json: {
      version: current.version,
      // The etcd revision of the document in fleet mode, else null.
      revision: current.revision,
      source: current.source,
      loaded_at: current.loadedAt,
      document: redact(current.document),
    },
  }
}

async function rollback(commands: ConfigCommands, body: string): Promise<AdminReply> {
  let version: unknown
  try {
    version = (JSON.parse(body) as { version?: unknown }).version
  } catch {
    version = undefined
  }
  if (typeof version !== 'string' || version === '') {
    return { status: 400, json: { error: 'expected a JSON body {"version": "..."}', status: 400 } }
  }
  const result = await commands.rollback(version)
  if (result === null) {
    const error = `version ${version} is not in the history of applied versions`
    return { status: 404, json: { error, status: 404 } }
  }
  return replyOf(result)
}

/** 200 for applied/unchanged, 422 with every issue for a rejected document. */
function replyOf(result: ReloadResult): AdminReply {
  return { status: result.outcome === 'rejected' ? 422 : 200, json: result }
}

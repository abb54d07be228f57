/**
 * Admin routes of staged roll-outs (SPEC §4.4): GET /rollout (the running roll-out with both
 * versions' counts, or how the last one ended), POST /rollout/promote and POST /rollout/abort.
 */
import type { RolloutResult } from '../../lifecycle/rollout.ts'
import type { AdminReply, AdminRoute } from '../admin-server.ts'

/** What the routes need from the gateway (or, for a worker, from its supervisor). */
export interface RolloutCommands {
  rolloutView(): unknown
  endRollout(action: 'promote' | 'abort'): Promise<RolloutResult | null>
}

export function rolloutRoutes(commands: RolloutCommands): ReadonlyMap<string, AdminRoute> {
  const end = async (action: 'promote' | 'abort'): Promise<AdminReply> => {
    const result = await commands.endRollout(action)
    if (result === null) {
      return { status: 409, json: { error: 'no roll-out is running', status: 409 } }
    }
    return { status: 200, json: result }
  }
  return new Map<string, AdminRoute>([
    ['GET /rollout', () => ({ status: 200, json: commands.rolloutView() })],
    ['POST /rollout/promote', () => end('promote')],
    ['POST /rollout/abort', () => end('abort')],
  ])
}

/**
 * A Snapshot whose upstreams only count their disposals, for lifetime tests of the snapshot and
 * its holder (no router, config or pools behind it).
 */
import { Snapshot } from '../../src/snapshot/snapshot.ts'
import type { GatewayConfig } from '../../src/config/types.ts'
import type { UpstreamRuntime } from '../../src/snapshot/route-entry.ts'
import { createLogger } from '../../src/log/logger.ts'

export interface CountingSnapshot {
  readonly snapshot: Snapshot
  /** dispose() calls per upstream, by index. */
  readonly releases: number[]
}

export function makeCountingSnapshot(version = 'v1', leaseCount = 2): CountingSnapshot {
  const releases = Array.from({ length: leaseCount }, () => 0)
  const upstreams = new Map(
    releases.map((_, i): [string, UpstreamRuntime] => [
      `u${i}`,
      {
        dispose: () => {
          releases[i]!++
        },
      } as unknown as UpstreamRuntime,
    ]),
  )
  const snapshot = new Snapshot({
    version,
    config: {} as GatewayConfig,
    router: { lookup: () => undefined },
    upstreams,
    logger: createLogger({ level: 'silent' }),
  })
  return { snapshot, releases }
}

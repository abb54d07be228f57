/**
 * A Snapshot whose registry leases only count their releases, for lifetime tests of the
 * snapshot and its holder (no router, config or pools behind it).
 */
import { Snapshot } from '../../src/snapshot/snapshot.ts'
import type { GatewayConfig } from '../../src/config/types.ts'
import type { TargetLease } from '../../src/upstream/registry.ts'
import { createLogger } from '../../src/log/logger.ts'

export interface CountingSnapshot {
  readonly snapshot: Snapshot
  /** Release calls per lease, by lease index. */
  readonly releases: number[]
}

export function makeCountingSnapshot(version = 'v1', leaseCount = 2): CountingSnapshot {
  const releases = Array.from({ length: leaseCount }, () => 0)
  const leases = releases.map(
    (_, i): TargetLease =>
      ({
        release: () => {
          releases[i]!++
        },
      }) as unknown as TargetLease,
  )
  const snapshot = new Snapshot({
    version,
    config: {} as GatewayConfig,
    router: { lookup: () => undefined },
    upstreams: new Map(),
    leases,
    logger: createLogger({ level: 'silent' }),
  })
  return { snapshot, releases }
}

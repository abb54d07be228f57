/**
 * Warming a snapshot before it serves, as Envoy warms a cluster: upstreams whose discovery
 * source has not answered yet (a source new with this config) get its first answer, for at most
 * DISCOVERY_WARMUP_MS; an upstream with no target would answer 503. What is still unknown then
 * is logged, and filled in when the source answers.
 */
import type { Logger } from '../log/logger.ts'
import type { Snapshot } from '../snapshot/snapshot.ts'

/** How long a reload waits for a new discovery source's first answer before it serves anyway. */
export const DISCOVERY_WARMUP_MS = 5000

export async function awaitDiscovery(
  snapshot: Snapshot,
  logger: Logger,
  timeoutMs: number,
): Promise<void> {
  const unknown = [...snapshot.upstreams.values()].flatMap((u) =>
    u.discovery !== null && u.discovery.targets === null
      ? [{ upstream: u.name, source: u.discovery }]
      : [],
  )
  if (unknown.length === 0) return
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))
  await Promise.race([Promise.all(unknown.map((u) => u.source.known())), timeout])
  clearTimeout(timer)
  for (const { upstream, source } of unknown) {
    if (source.targets !== null) continue
    logger.warn(
      { upstream, discovery: source.description },
      'no targets discovered yet: the upstream answers 503 until its discovery answers',
    )
  }
}

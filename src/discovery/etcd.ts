/**
 * etcd discovery (`discovery: { etcd: { prefix } }`): every key under the prefix is one target,
 * its value `{"url": "http://10.0.0.5:8080", "weight": 1}` (weight optional, default 1), written
 * by the service itself, usually under a lease so that the key goes when the service does. The
 * prefix is read once and then watched: a put adds or changes a target, a delete (or an expired
 * lease) removes it. A value that is not such an object is logged (each time it is written or
 * read) and ignored, never fatal.
 * While the cluster is unreachable the last known set stays.
 */
import { parseOriginUrl } from '../config/formats.ts'
import type { EtcdClientLease } from '../etcd/client.ts'
import { RangeFollower, type EtcdEntry } from '../etcd/follow.ts'
import { BaseSource, type DiscoveredTarget, type SourceEvents } from './source.ts'

export class EtcdSource extends BaseSource {
  readonly description: string
  readonly #lease: EtcdClientLease
  readonly #follower: RangeFollower
  /** Targets by key; null for a key whose value is malformed. */
  readonly #byKey = new Map<string, DiscoveredTarget | null>()
  readonly #onMalformed: (key: string, problem: string) => void

  constructor(
    lease: EtcdClientLease,
    prefix: string,
    events: SourceEvents & { readonly onMalformed: (key: string, problem: string) => void },
  ) {
    super(events)
    this.#lease = lease
    this.#onMalformed = events.onMalformed
    this.description = `etcd ${prefix}`
    this.#follower = new RangeFollower(
      () => lease.client(),
      { prefix },
      {
        onSnapshot: (entries) => {
          this.#byKey.clear()
          for (const entry of entries) this.#set(entry)
          this.#publish()
        },
        onPut: (entry) => {
          this.#set(entry)
          this.#publish()
        },
        onDelete: (key) => {
          if (this.#byKey.delete(key)) this.#publish()
        },
        onProblem: (message) => this.problem(message),
        onConnected: () => this.recovered(),
      },
    )
  }

  close(): void {
    this.closed = true
    this.#follower.close()
    this.#lease.release()
  }

  #set(entry: EtcdEntry): void {
    const parsed = parseTarget(entry.value)
    if (typeof parsed === 'string') {
      this.#onMalformed(entry.key, parsed)
      this.#byKey.set(entry.key, null)
      return
    }
    this.#byKey.set(entry.key, parsed)
  }

  #publish(): void {
    const targets: DiscoveredTarget[] = []
    const seen = new Set<string>()
    for (const target of this.#byKey.values()) {
      // Two keys naming one URL: one target (the first key's weight).
      if (target === null || seen.has(target.origin)) continue
      seen.add(target.origin)
      targets.push(target)
    }
    this.publish(targets)
  }
}

/** A key's value as a target, or what is wrong with it. */
export function parseTarget(value: string): DiscoveredTarget | string {
  let doc: unknown
  try {
    doc = JSON.parse(value)
  } catch {
    return 'not JSON'
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return 'not a JSON object {"url": …, "weight": …}'
  }
  const { url, weight } = doc as { url?: unknown; weight?: unknown }
  if (typeof url !== 'string') return '"url" is missing or not a string'
  const origin = parseOriginUrl(url)
  if (!origin.ok) return origin.message
  if (weight !== undefined && (!Number.isInteger(weight) || (weight as number) < 1)) {
    return '"weight" must be a positive integer'
  }
  return { origin: origin.value, weight: (weight as number | undefined) ?? 1 }
}

/**
 * The discovery hub: one running source per distinct discovery config (a DNS name, an etcd
 * prefix on a cluster), shared by every snapshot and upstream that uses it and counted, so a
 * reload that keeps an upstream's discovery keeps its source, its last answer and its watch;
 * the source stops when the last snapshot using it is gone. Logs what sources find.
 */
import type { DiscoveryConfig } from '../config/types.ts'
import { EtcdClients } from '../etcd/client.ts'
import type { Logger } from '../log/logger.ts'
import { DnsSource } from './dns.ts'
import { EtcdSource } from './etcd.ts'
import type { DiscoverySource, SourceEvents } from './source.ts'
import { SharedMap } from '../util/shared.ts'

/** A snapshot's hold on a source; the last release stops it. */
export interface DiscoveryLease {
  readonly source: DiscoverySource
  readonly release: () => void
}

export class DiscoveryHub {
  readonly #sources = new SharedMap<DiscoverySource>((source) => source.close())
  readonly #logger: Logger
  readonly #etcd: EtcdClients
  readonly #events: SourceEvents

  constructor(logger: Logger, etcd: EtcdClients = new EtcdClients()) {
    this.#logger = logger
    this.#etcd = etcd
    this.#events = {
      onChange: (source, targets) =>
        this.#logger.info(
          { discovery: source.description, targets: targets.map((t) => t.origin) },
          `discovered targets: ${targets.length}`,
        ),
      onProblem: (source, message) =>
        this.#logger.warn(
          { discovery: source.description, problem: message },
          'discovery failing: keeping the last known targets',
        ),
      onRecovered: (source) =>
        this.#logger.info({ discovery: source.description }, 'discovery working again'),
    }
  }

  /**
   * Joins (or starts) the source for `discovery`; `etcdEndpoints` is the cluster an etcd prefix
   * lives on (the config's `etcd.endpoints`, or fleet mode's `--etcd`).
   */
  acquire(discovery: DiscoveryConfig, etcdEndpoints: readonly string[] | null): DiscoveryLease {
    const key =
      discovery.kind === 'etcd'
        ? JSON.stringify([discovery, [...(etcdEndpoints ?? [])].sort()])
        : JSON.stringify(discovery)
    const lease = this.#sources.acquire(key, () => this.#start(discovery, etcdEndpoints))
    return { source: lease.value, release: lease.release }
  }

  /** Stops every source and closes every etcd client (process shutdown). */
  closeAll(): void {
    for (const source of this.#sources.clear()) source.close()
    this.#etcd.closeAll()
  }

  #start(discovery: DiscoveryConfig, etcdEndpoints: readonly string[] | null): DiscoverySource {
    if (discovery.kind === 'dns') return new DnsSource(discovery, this.#events)
    if (etcdEndpoints === null || etcdEndpoints.length === 0) {
      // Validation requires a cluster for etcd discovery; reaching this is a bug.
      throw new Error(`etcd discovery of ${discovery.prefix} has no etcd cluster`)
    }
    return new EtcdSource(this.#etcd.acquire(etcdEndpoints), discovery.prefix, {
      ...this.#events,
      onMalformed: (key, problem) =>
        this.#logger.warn(
          { discovery: `etcd ${discovery.prefix}`, key, problem },
          'etcd discovery: ignoring a key whose value is not a target',
        ),
    })
  }
}

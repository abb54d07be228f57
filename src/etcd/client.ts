/**
 * etcd v3 connections, shared: one client (the `etcd3` package, gRPC underneath) per cluster,
 * counted, for the fleet config source and every etcd-discovered upstream on that cluster. The
 * package is loaded the first time a cluster is used, so a gateway without etcd never pays for
 * loading gRPC. Unary calls get a deadline (a dead cluster answers in bounded time); watches have
 * none, and the package re-establishes them after a disconnect from the last revision seen.
 */
import type { Etcd3 } from 'etcd3'
import { SharedMap } from '../util/shared.ts'

/** Deadline of a unary call (get, put) to the cluster. */
const CALL_DEADLINE_MS = 5000

export interface EtcdClientLease {
  /** Cluster endpoints, as given (`http://host:port`). */
  readonly endpoints: readonly string[]
  /** The client; the first call of a process also loads the etcd3 package. */
  client(): Promise<Etcd3>
  release(): void
}

export class EtcdClients {
  readonly #clients = new SharedMap<Promise<Etcd3>>(close)

  acquire(endpoints: readonly string[]): EtcdClientLease {
    const key = [...endpoints].sort().join(',')
    const lease = this.#clients.acquire(key, () => connect(endpoints))
    return { endpoints, client: () => lease.value, release: lease.release }
  }

  /** Closes every client (process shutdown). */
  closeAll(): void {
    for (const client of this.#clients.clear()) close(client)
  }
}

function close(client: Promise<Etcd3>): void {
  void client.then((c) => c.close()).catch(() => undefined)
}

async function connect(endpoints: readonly string[]): Promise<Etcd3> {
  const { Etcd3 } = await import('etcd3')
  return new Etcd3({
    hosts: [...endpoints],
    dialTimeout: CALL_DEADLINE_MS,
    defaultCallOptions: (context) =>
      context.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS },
  })
}

/** Opens one client for a single task (the `config push` command); close it after. */
export async function connectEtcd(endpoints: readonly string[]): Promise<Etcd3> {
  return connect(endpoints)
}

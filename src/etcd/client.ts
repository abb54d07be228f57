/**
 * etcd v3 connections, shared: one client (the `etcd3` package, gRPC underneath) per cluster,
 * counted, for the fleet config source and every etcd-discovered upstream on that cluster. The
 * package is loaded the first time a cluster is used, so a gateway without etcd never pays for
 * loading gRPC. Unary calls get a deadline (a dead cluster answers in bounded time); watches have
 * none, and the package re-establishes them after a disconnect from the last revision seen.
 */
import type { Etcd3 } from 'etcd3'

/** Deadline of a unary call (get, put) to the cluster. */
const CALL_DEADLINE_MS = 5000

export interface EtcdClientLease {
  /** Cluster endpoints, as given (`http://host:port`). */
  readonly endpoints: readonly string[]
  /** The client; the first call of a process also loads the etcd3 package. */
  client(): Promise<Etcd3>
  release(): void
}

interface Shared {
  readonly client: Promise<Etcd3>
  refs: number
}

export class EtcdClients {
  readonly #clients = new Map<string, Shared>()

  acquire(endpoints: readonly string[]): EtcdClientLease {
    const key = [...endpoints].sort().join(',')
    let shared = this.#clients.get(key)
    if (shared === undefined) {
      shared = { client: connect(endpoints), refs: 0 }
      this.#clients.set(key, shared)
    }
    shared.refs++
    const entry = shared
    let released = false
    return {
      endpoints,
      client: () => entry.client,
      release: () => {
        if (released) return
        released = true
        entry.refs--
        if (entry.refs > 0) return
        if (this.#clients.get(key) === entry) this.#clients.delete(key)
        void entry.client.then((c) => c.close()).catch(() => undefined)
      },
    }
  }

  /** Closes every client (process shutdown). */
  closeAll(): void {
    for (const entry of this.#clients.values()) {
      void entry.client.then((c) => c.close()).catch(() => undefined)
    }
    this.#clients.clear()
  }
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

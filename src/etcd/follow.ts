/**
 * Following a key or a key prefix in etcd: read it once (the snapshot), then watch it from the
 * next revision. etcd3 resumes a watch by itself after a disconnect, from the last revision it
 * saw, so no change is missed or delivered twice; when it cannot (the revision was compacted
 * meanwhile, or the watch could not be set up), the follower reads the range again and watches
 * anew, with a back-off (0.5 s doubling up to 10 s) while the cluster does not answer.
 */
import type { Etcd3, IKeyValue, Watcher } from 'etcd3'

export interface EtcdEntry {
  readonly key: string
  readonly value: string
  /** The revision that last changed the key (etcd's mod_revision), as a decimal string. */
  readonly revision: string
}

export interface FollowHandlers {
  /** The whole range, as read at `revision` (a key: zero or one entry). */
  readonly onSnapshot: (entries: readonly EtcdEntry[], revision: string) => void
  readonly onPut: (entry: EtcdEntry) => void
  readonly onDelete: (key: string, revision: string) => void
  /** The cluster cannot be reached or the watch broke; the follower keeps trying. */
  readonly onProblem: (message: string) => void
  /** The watch is (again) connected. */
  readonly onConnected: () => void
}

export type EtcdRange = { readonly key: string } | { readonly prefix: string }

const FIRST_BACKOFF_MS = 500
const MAX_BACKOFF_MS = 10_000

export class RangeFollower {
  readonly #client: () => Promise<Etcd3>
  readonly #range: EtcdRange
  readonly #handlers: FollowHandlers
  #watcher: Watcher | null = null
  #timer: NodeJS.Timeout | null = null
  #backoffMs = FIRST_BACKOFF_MS
  #closed = false

  constructor(client: () => Promise<Etcd3>, range: EtcdRange, handlers: FollowHandlers) {
    this.#client = client
    this.#range = range
    this.#handlers = handlers
    void this.#follow()
  }

  /** True once `close()` was called (a call, so it is read afresh after every await). */
  #isClosed(): boolean {
    return this.#closed
  }

  close(): void {
    this.#closed = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    const watcher = this.#watcher
    this.#watcher = null
    void watcher?.cancel().catch(() => undefined)
  }

  async #follow(): Promise<void> {
    let watcher: Watcher
    try {
      const client = await this.#client()
      const range = this.#range
      const read = 'key' in range ? client.get(range.key) : client.getAll().prefix(range.prefix)
      const res = await read.exec()
      if (this.#isClosed()) return
      this.#handlers.onSnapshot(res.kvs.map(entryOf), res.header.revision)
      const builder = client.watch()
      const watch = 'key' in range ? builder.key(range.key) : builder.prefix(range.prefix)
      // Listeners go on before the watch connects: events that arrive with the connection (a
      // write just after the read) are emitted at once, and would be lost to later listeners.
      watcher = watch.startRevision(String(BigInt(res.header.revision) + 1n)).watcher()
    } catch (err) {
      this.#retry(err)
      return
    }
    this.#watcher = watcher
    const current = (): boolean => this.#watcher === watcher && !this.#isClosed()
    watcher.on('put', (kv: IKeyValue) => {
      if (current()) this.#handlers.onPut(entryOf(kv))
    })
    watcher.on('delete', (kv: IKeyValue) => {
      if (current()) this.#handlers.onDelete(kv.key.toString(), kv.mod_revision)
    })
    watcher.on('disconnected', (err: Error) => {
      if (current()) this.#handlers.onProblem(`etcd connection lost (${err.message})`)
    })
    watcher.on('connected', () => {
      if (!current()) return
      this.#backoffMs = FIRST_BACKOFF_MS
      this.#handlers.onConnected()
    })
    watcher.on('error', (err: Error) => {
      if (!current()) return
      // The watch cannot go on (e.g. its revision was compacted): read again, watch anew.
      this.#watcher = null
      void watcher.cancel().catch(() => undefined)
      this.#retry(err)
    })
  }

  #retry(err: unknown): void {
    if (this.#closed) return
    this.#handlers.onProblem(`etcd: ${err instanceof Error ? err.message : String(err)}`)
    const delay = this.#backoffMs
    this.#backoffMs = Math.min(this.#backoffMs * 2, MAX_BACKOFF_MS)
    this.#timer = setTimeout(() => {
      this.#timer = null
      if (!this.#closed) void this.#follow()
    }, delay)
  }
}

function entryOf(kv: IKeyValue): EtcdEntry {
  return { key: kv.key.toString(), value: kv.value.toString(), revision: kv.mod_revision }
}

/**
 * An etcd key as a source of config documents (fleet mode, SPEC §7): the key is read at start
 * and watched from the next revision; every new revision's text is handed over, one at a time,
 * and when several arrive during one apply only the newest is handed over next. A revision not
 * newer than one already handed over or fetched (seen again when the key is read anew after a
 * broken watch, or overtaken by a reload's read) is not handed over. Like the file source it never parses; the reload pipeline does.
 */
import type { EtcdClientLease } from '../../etcd/client.ts'
import { RangeFollower } from '../../etcd/follow.ts'

/** One revision of the document. */
export interface EtcdDocument {
  readonly text: string
  /** The key's mod_revision. */
  readonly revision: string
}

export interface EtcdConfigSourceOptions {
  readonly lease: EtcdClientLease
  readonly key: string
  /** A new revision; the next one waits for the promise. Must not reject. */
  readonly onDocument: (doc: EtcdDocument) => Promise<void>
  /** The key does not exist (at the first read) or was deleted. */
  readonly onMissing: (deleted: boolean) => void
  readonly onProblem: (message: string) => void
  readonly onConnected: () => void
}

export class EtcdConfigSource {
  readonly key: string
  readonly #options: EtcdConfigSourceOptions
  readonly #follower: RangeFollower
  #lastRevision: string | null = null
  #pending: EtcdDocument | null = null
  #delivering = false
  #closed = false

  constructor(options: EtcdConfigSourceOptions) {
    this.key = options.key
    this.#options = options
    this.#follower = new RangeFollower(
      () => options.lease.client(),
      { key: options.key },
      {
        onSnapshot: (entries) => {
          const entry = entries[0]
          if (entry === undefined) options.onMissing(false)
          else this.#offer({ text: entry.value, revision: entry.revision })
        },
        onPut: (entry) => this.#offer({ text: entry.value, revision: entry.revision }),
        onDelete: () => options.onMissing(true),
        onProblem: (message) => options.onProblem(message),
        onConnected: () => options.onConnected(),
      },
    )
  }

  /**
   * Reads the key now (SIGHUP, `POST /reload`): its document, or null when it is absent. The
   * caller applies it; a revision the watch delivers later that is not newer is then skipped.
   */
  async fetch(): Promise<EtcdDocument | null> {
    const client = await this.#options.lease.client()
    const res = await client.get(this.key).exec()
    const kv = res.kvs[0]
    if (kv === undefined) return null
    this.#seen(kv.mod_revision)
    return { text: kv.value.toString(), revision: kv.mod_revision }
  }

  close(): void {
    this.#closed = true
    this.#pending = null
    this.#follower.close()
    this.#options.lease.release()
  }

  #offer(doc: EtcdDocument): void {
    if (this.#closed || !this.#isNewer(doc.revision)) return
    this.#pending = doc
    this.#deliver().catch((err: unknown) =>
      this.#options.onProblem(`applying revision ${doc.revision} failed: ${String(err)}`),
    )
  }

  /** True when `revision` is newer than any handed over or fetched (not after a newer one). */
  #isNewer(revision: string): boolean {
    return this.#lastRevision === null || BigInt(revision) > BigInt(this.#lastRevision)
  }

  #seen(revision: string): void {
    if (this.#isNewer(revision)) this.#lastRevision = revision
  }

  async #deliver(): Promise<void> {
    if (this.#delivering) return
    this.#delivering = true
    try {
      for (let doc = this.#pending; doc !== null && !this.#closed; doc = this.#pending) {
        this.#pending = null
        // A reload may have fetched (and applied) a newer revision while this one waited.
        if (!this.#isNewer(doc.revision)) continue
        this.#lastRevision = doc.revision
        await this.#options.onDocument(doc)
      }
    } finally {
      this.#delivering = false
    }
  }
}

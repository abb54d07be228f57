/**
 * Reference-counted sharing by key: the first `acquire` of a key creates its value, each one
 * returns a lease, and the value is disposed of when the last lease of it is released. A lease
 * releases at most once; after `clear()`, releasing an old lease never touches a newer value
 * under the same key. Used for registry pools and states, discovery sources and etcd clients.
 */
export interface Lease<V> {
  readonly value: V
  readonly release: () => void
}

interface Entry<V> {
  readonly value: V
  refs: number
}

export class SharedMap<V> {
  readonly #entries = new Map<string, Entry<V>>()
  readonly #dispose: (value: V) => void

  constructor(dispose: (value: V) => void) {
    this.#dispose = dispose
  }

  acquire(key: string, create: () => V): Lease<V> {
    let entry = this.#entries.get(key)
    if (entry === undefined) {
      entry = { value: create(), refs: 0 }
      this.#entries.set(key, entry)
    }
    entry.refs++
    const held = entry
    let released = false
    return {
      value: held.value,
      release: () => {
        if (released) return
        released = true
        held.refs--
        if (held.refs > 0) return
        if (this.#entries.get(key) === held) this.#entries.delete(key)
        this.#dispose(held.value)
      },
    }
  }

  get size(): number {
    return this.#entries.size
  }

  values(): V[] {
    return [...this.#entries.values()].map((e) => e.value)
  }

  /** Forgets every value without disposing of it (the caller does, e.g. at shutdown). */
  clear(): V[] {
    const values = this.values()
    this.#entries.clear()
    return values
  }
}

/**
 * EtcdConfigSource against a real etcd: revisions are handed over one at a time, those that
 * arrive during an apply collapse into the newest, and a revision that a reload's fetch() has
 * already read (so applied) is not handed over again.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Etcd3 } from 'etcd3'
import { EtcdConfigSource, type EtcdDocument } from '../../src/config/sources/etcd.ts'
import { EtcdClients } from '../../src/etcd/client.ts'
import { startEtcd } from '../helpers/etcd-server.ts'
import { waitFor } from '../helpers/wait-for.ts'

test(
  'one at a time, newest wins, nothing older than a fetched revision',
  { timeout: 30_000 },
  async () => {
    const etcd = await startEtcd()
    const client = new Etcd3({ hosts: etcd.url })
    const clients = new EtcdClients()
    const put = async (text: string): Promise<string> =>
      (await client.put('/k').value(text).exec()).header.revision
    const delivered: string[] = []
    let release: () => void = () => undefined
    const blocked = new Promise<void>((resolve) => (release = resolve))
    let missing = 0
    const source = new EtcdConfigSource({
      lease: clients.acquire([etcd.url]),
      key: '/k',
      onDocument: async (doc: EtcdDocument) => {
        delivered.push(doc.text)
        // The first apply takes a while: what is written meanwhile must wait, then collapse.
        if (delivered.length === 1) await blocked
      },
      onMissing: () => void missing++,
      onProblem: () => undefined,
      onConnected: () => undefined,
    })
    try {
      await waitFor(() => missing === 1, { message: 'the key is missing at first' })
      await put('one')
      await waitFor(() => delivered.length === 1, { message: 'the first revision' })
      await put('two')
      const threeAt = await put('three')
      // A reload reads the key meanwhile and applies it itself.
      const fetched = await source.fetch()
      assert.deepEqual(fetched, { text: 'three', revision: threeAt })
      release()
      await put('four')
      await waitFor(() => delivered.includes('four'), { message: 'the next revision' })
      assert.deepEqual(delivered, ['one', 'four'], '"two" collapsed, "three" already fetched')
    } finally {
      release()
      source.close()
      clients.closeAll()
      client.close()
      await etcd.close()
    }
  },
)

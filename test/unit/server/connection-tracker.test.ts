/**
 * ConnectionTracker with real sockets on 127.0.0.1: it counts open connections, resolves
 * whenEmpty once the last one closes, and destroyAll cuts what is left.
 */

import { afterEach, beforeEach, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net, { type AddressInfo, type Server, type Socket } from 'node:net'
import { ConnectionTracker } from '../../../src/server/connection-tracker.ts'
import { within } from '../../helpers/within.ts'

void describe('ConnectionTracker', () => {
  let tracker: ConnectionTracker
  let server: Server
  let port = 0
  const clients: Socket[] = []

  beforeEach(async () => {
    tracker = new ConnectionTracker()
    server = net.createServer((socket) => tracker.add(socket))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
  })
  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy()
    tracker.destroyAll()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  /**
   * Opens a client connection and waits until the server has accepted (and tracked) it; returns
   * the client end and the server end.
   */
  async function connect(): Promise<{ client: Socket; accepted: Socket }> {
    const accepting = once(server, 'connection') as Promise<[Socket]>
    const client = net.connect(port, '127.0.0.1')
    client.on('error', () => undefined)
    clients.push(client)
    const [accepted] = await within(accepting, 5000, 'server accepts the connection')
    return { client, accepted }
  }

  void test('is empty at first, and whenEmpty resolves at once', async () => {
    assert.equal(tracker.size, 0)
    await within(tracker.whenEmpty(), 1000, 'whenEmpty on an empty tracker')
  })

  void test('counts every accepted connection', async () => {
    await connect()
    await connect()
    assert.equal(tracker.size, 2)
  })

  void test('forgets a connection once it closes', async () => {
    const a = await connect()
    await connect()
    a.client.end()
    // the tracker's own close listener was added first, so it has run when this one resolves
    await within(once(a.accepted, 'close'), 5000, 'server end closes')
    assert.equal(tracker.size, 1)
  })

  void test('whenEmpty waits for the last connection to close, then resolves every waiter', async () => {
    const a = await connect()
    const b = await connect()
    let settled = false
    const first = tracker.whenEmpty().then(() => (settled = true))
    const second = tracker.whenEmpty()
    a.client.end()
    await within(once(a.accepted, 'close'), 5000, 'a closes')
    assert.equal(settled, false, 'one connection is still open')
    b.client.end()
    await within(Promise.all([first, second]), 5000, 'whenEmpty after the last close')
    assert.equal(tracker.size, 0)
  })

  void test('destroyAll cuts every tracked connection; clients see them close', async () => {
    const a = await connect()
    const b = await connect()
    const empty = tracker.whenEmpty()
    tracker.destroyAll()
    await within(
      Promise.all([once(a.client, 'close'), once(b.client, 'close'), empty]),
      5000,
      'all closed',
    )
    assert.equal(tracker.size, 0)
  })
})

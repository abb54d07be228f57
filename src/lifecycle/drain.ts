/**
 * Graceful stop (SPEC §5): readiness off → stop accepting → close idle keep-alive connections
 * → let in-flight requests and tunnels finish (responses meanwhile carry `Connection: close`)
 * → cut whatever is left at the deadline. Nobody gets an error response because of a drain.
 */
import type { Logger } from '../log/logger.ts'
import type { Listener } from '../server/listeners.ts'

export interface DrainInput {
  readonly listeners: readonly Listener[]
  readonly timeoutMs: number
  readonly logger: Logger
  /** At the deadline, before cutting: end what can be ended cleanly (WebSocket close frames). */
  readonly beforeCut?: () => Promise<void>
}

// While draining, connections whose last response went out before the drain began become
// idle later; they are swept at this interval (bounded by the drain itself).
const IDLE_SWEEP_MS = 100

/** Drains the listeners; resolves when every connection is closed or was cut at the deadline. */
export async function drainListeners(input: DrainInput): Promise<{ cut: number }> {
  const { listeners } = input
  const allClosed = async (): Promise<void> => {
    await Promise.all(listeners.map((l) => l.tracker.whenEmpty()))
  }
  for (const listener of listeners) listener.stopAccepting()
  const sweep = (): void => {
    for (const listener of listeners) listener.tracker.closeIdle()
  }
  sweep()
  const timer = setInterval(sweep, IDLE_SWEEP_MS)
  let deadline: NodeJS.Timeout | undefined
  const timedOut = new Promise<'timeout'>((resolve) => {
    deadline = setTimeout(() => resolve('timeout'), input.timeoutMs)
  })
  try {
    const result = await Promise.race([allClosed().then(() => 'empty' as const), timedOut])
    if (result === 'empty') {
      for (const listener of listeners) listener.release()
      return { cut: 0 }
    }
    const cut = listeners.reduce((n, l) => n + l.tracker.size, 0)
    input.logger.warn({ connections: cut }, 'drain timeout reached: cutting remaining connections')
    await input.beforeCut?.()
    for (const listener of listeners) listener.tracker.destroyAll()
    await allClosed()
    for (const listener of listeners) listener.release()
    return { cut }
  } finally {
    clearInterval(timer)
    clearTimeout(deadline)
  }
}

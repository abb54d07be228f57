/**
 * Constant GET load for failure tests: a few loops on keep-alive and fresh connections, each
 * answer recorded as the body (status 200) or `status N` / `error MESSAGE`. Bounded in count
 * (100,000 per loop) and stopped by `stop()`, which waits for every loop.
 */
import http from 'node:http'

/** One GET: the body when 200, else `status N` or `error MESSAGE` (5 s timeout). */
export function get(url: string, agent: http.Agent | false): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => resolve(res.statusCode === 200 ? body : `status ${res.statusCode}`))
      res.on('error', (err) => resolve(`error ${err.message}`))
    })
    req.setTimeout(5000, () => req.destroy(new Error('timed out')))
    req.on('error', (err) => resolve(`error ${err.message}`))
  })
}

export interface Load {
  /** Every answer so far, in order of arrival. */
  readonly answers: string[]
  /** True when `body` was answered at index `from` or later. */
  seen(body: string, from?: number): boolean
  /** Stops the loops and waits for them; returns the answers not in `expected`. */
  stop(expected?: readonly string[]): Promise<string[]>
}

/** Starts `keepAlive` loops on one keep-alive agent and `fresh` loops without one. */
export function startLoad(url: string, opts: { keepAlive?: number; fresh?: number } = {}): Load {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
  const answers: string[] = []
  let stopped = false
  const loop = async (keepAlive: boolean): Promise<void> => {
    for (let i = 0; i < 100_000 && !stopped; i++) {
      answers.push(await get(url, keepAlive ? agent : false))
    }
  }
  const loops = [
    ...Array.from({ length: opts.keepAlive ?? 2 }, () => loop(true)),
    ...Array.from({ length: opts.fresh ?? 2 }, () => loop(false)),
  ]
  let done: Promise<void> | null = null
  return {
    answers,
    seen: (body, from = 0) => answers.indexOf(body, from) !== -1,
    stop: async (expected) => {
      stopped = true
      done ??= Promise.all(loops).then(() => agent.destroy())
      await done
      return expected === undefined ? [] : answers.filter((a) => !expected.includes(a))
    },
  }
}

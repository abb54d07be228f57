/**
 * Bounding a promise in time without sleeping: `within(p, ms)` settles like `p`, or rejects when
 * `ms` pass first (the timer is cleared as soon as `p` settles, so nothing keeps the loop alive).
 */

export async function within<T>(
  promise: Promise<T>,
  timeoutMs = 5000,
  what = 'promise',
): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)),
      timeoutMs,
    )
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

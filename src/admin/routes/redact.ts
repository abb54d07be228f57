/**
 * Redaction for GET /config: the running document is shown without its secrets. A value is
 * replaced when its key names a secret (authorization, cookie, token, secret, password, api
 * key, private key; `*_env` keys hold variable names, not secrets, and stay) and user:password
 * in a URL loses the password.
 */

export const REDACTED = '[redacted]'

const SECRET_KEY =
  /authorization|cookie|token|secret|passw(or)?d|api[-_]?key|private[-_]?key|credential/i
const URL_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^/:@]+):[^/@]*@/i

/** A deep copy of `value` with secrets replaced by "[redacted]". */
export function redact(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(URL_PASSWORD, `$1:${REDACTED}@`)
  if (Array.isArray(value)) return value.map(redact)
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) && !key.endsWith('_env') ? REDACTED : redact(inner)
  }
  return out
}

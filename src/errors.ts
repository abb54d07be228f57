/**
 * The one registry of hitless error codes, the status each maps to, and the typed error classes.
 * Codes are the contract (documented in docs/errors.md, checked by a doc-sync test); match on
 * `code`, never on `instanceof`, across module and process boundaries.
 */

export const ErrorCode = {
  CONFIG_INVALID: 'HITLESS_ERR_CONFIG_INVALID',
  CONFIG_READ_FAILED: 'HITLESS_ERR_CONFIG_READ_FAILED',
  ROUTE_NOT_FOUND: 'HITLESS_ERR_ROUTE_NOT_FOUND',
  BAD_REQUEST: 'HITLESS_ERR_BAD_REQUEST',
  BODY_TOO_LARGE: 'HITLESS_ERR_BODY_TOO_LARGE',
  HEADERS_TOO_LARGE: 'HITLESS_ERR_HEADERS_TOO_LARGE',
  REQUEST_TIMEOUT: 'HITLESS_ERR_REQUEST_TIMEOUT',
  VERSION_NOT_SUPPORTED: 'HITLESS_ERR_VERSION_NOT_SUPPORTED',
  METHOD_NOT_SUPPORTED: 'HITLESS_ERR_METHOD_NOT_SUPPORTED',
  EXPECTATION_FAILED: 'HITLESS_ERR_EXPECTATION_FAILED',
  NO_HEALTHY_TARGET: 'HITLESS_ERR_NO_HEALTHY_TARGET',
  NOT_READY: 'HITLESS_ERR_NOT_READY',
  UPSTREAM_CONNECT_FAILED: 'HITLESS_ERR_UPSTREAM_CONNECT_FAILED',
  UPSTREAM_TIMEOUT: 'HITLESS_ERR_UPSTREAM_TIMEOUT',
  UPSTREAM_RESET: 'HITLESS_ERR_UPSTREAM_RESET',
  UPSTREAM_BAD_RESPONSE: 'HITLESS_ERR_UPSTREAM_BAD_RESPONSE',
  UPSTREAM_BODY_ABORTED: 'HITLESS_ERR_UPSTREAM_BODY_ABORTED',
  CLIENT_ABORTED: 'HITLESS_ERR_CLIENT_ABORTED',
  ADMIN_UNAUTHORIZED: 'HITLESS_ERR_ADMIN_UNAUTHORIZED',
  LISTEN_FAILED: 'HITLESS_ERR_LISTEN_FAILED',
  INTERNAL: 'HITLESS_ERR_INTERNAL',
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** Status a client sees for each code, and the short public message that goes in the body. */
const TABLE: Readonly<Record<ErrorCode, { readonly status: number; readonly message: string }>> = {
  HITLESS_ERR_CONFIG_INVALID: { status: 500, message: 'invalid configuration' },
  HITLESS_ERR_CONFIG_READ_FAILED: { status: 500, message: 'configuration could not be read' },
  HITLESS_ERR_ROUTE_NOT_FOUND: { status: 404, message: 'no route matches this request' },
  HITLESS_ERR_BAD_REQUEST: { status: 400, message: 'malformed request' },
  HITLESS_ERR_BODY_TOO_LARGE: { status: 413, message: 'request body too large' },
  HITLESS_ERR_HEADERS_TOO_LARGE: { status: 431, message: 'request header fields too large' },
  HITLESS_ERR_REQUEST_TIMEOUT: { status: 408, message: 'request timed out' },
  HITLESS_ERR_VERSION_NOT_SUPPORTED: { status: 505, message: 'HTTP version not supported' },
  HITLESS_ERR_METHOD_NOT_SUPPORTED: { status: 405, message: 'method not supported by the gateway' },
  HITLESS_ERR_EXPECTATION_FAILED: { status: 417, message: 'expectation not supported' },
  HITLESS_ERR_NO_HEALTHY_TARGET: { status: 503, message: 'no healthy upstream target' },
  HITLESS_ERR_NOT_READY: { status: 503, message: 'gateway is not ready' },
  HITLESS_ERR_UPSTREAM_CONNECT_FAILED: { status: 502, message: 'upstream connection failed' },
  HITLESS_ERR_UPSTREAM_TIMEOUT: { status: 504, message: 'upstream timed out' },
  HITLESS_ERR_UPSTREAM_RESET: { status: 502, message: 'upstream connection reset' },
  HITLESS_ERR_UPSTREAM_BAD_RESPONSE: { status: 502, message: 'bad response from upstream' },
  HITLESS_ERR_UPSTREAM_BODY_ABORTED: { status: 502, message: 'upstream response aborted' },
  HITLESS_ERR_CLIENT_ABORTED: { status: 499, message: 'client closed the request' },
  HITLESS_ERR_ADMIN_UNAUTHORIZED: { status: 401, message: 'missing or wrong bearer token' },
  HITLESS_ERR_LISTEN_FAILED: { status: 500, message: 'could not listen' },
  HITLESS_ERR_INTERNAL: { status: 500, message: 'internal error' },
}

/** The HTTP status a client sees for `code`. */
export function statusOf(code: ErrorCode): number {
  return TABLE[code].status
}

/** The fixed public message for `code`: never user input, never an upstream's words. */
export function publicMessageOf(code: ErrorCode): string {
  return TABLE[code].message
}

/** Every registered code (for the doc-sync test and docs/errors.md). */
export function allErrorCodes(): readonly ErrorCode[] {
  return Object.values(ErrorCode)
}

/** Base of every error hitless raises; `status` is what a client would see. */
export class GatewayError extends Error {
  readonly code: ErrorCode
  readonly status: number

  constructor(code: ErrorCode, message: string, opts: { status?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = new.target.name
    this.code = code
    this.status = opts.status ?? statusOf(code)
  }
}

/**
 * Where an upstream attempt failed. It decides retry safety: nothing was sent before
 * `connect` completed; after `request-sent` only idempotent, replayable requests may be retried.
 */
export type AttemptPhase = 'connect' | 'request-sent' | 'response-headers' | 'response-body'

/** A failed upstream attempt, converted from undici's or the OS's error where it happened. */
export class UpstreamError extends GatewayError {
  readonly phase: AttemptPhase
  readonly target: string
  /** The retry condition this failure satisfies (`connect-failure`, `reset`, `timeout`, …). */
  readonly condition: string

  constructor(
    code: ErrorCode,
    message: string,
    opts: { phase: AttemptPhase; target: string; condition: string; cause?: unknown },
  ) {
    super(code, message, opts.cause === undefined ? {} : { cause: opts.cause })
    this.phase = opts.phase
    this.target = opts.target
    this.condition = opts.condition
  }
}

/** One problem found in a config document, with where it is. */
export interface ConfigIssue {
  /** Config path such as `routes[2].match.regex`; empty for the whole document. */
  readonly path: string
  /** 1-based line and column in the source text, when known. */
  readonly line: number | null
  readonly column: number | null
  readonly message: string
  /** A "did you mean" suggestion, when there is one. */
  readonly hint?: string
}

/** A document rejected by parsing or validation; carries every issue found, not only the first. */
export class ConfigError extends GatewayError {
  readonly issues: readonly ConfigIssue[]
  readonly source: string

  constructor(source: string, issues: readonly ConfigIssue[], opts: { cause?: unknown } = {}) {
    super(ErrorCode.CONFIG_INVALID, `${source}: ${issues.length} config error(s)`, opts)
    this.source = source
    this.issues = issues
  }
}

/** Formats one issue as `path (line:column): message (did you mean "x"?)`. */
export function formatConfigIssue(issue: ConfigIssue): string {
  const where = issue.line === null ? '' : ` (${issue.line}:${issue.column ?? 0})`
  const path = issue.path === '' ? '(document)' : issue.path
  const hint = issue.hint === undefined ? '' : ` (did you mean "${issue.hint}"?)`
  return `${path}${where}: ${issue.message}${hint}`
}

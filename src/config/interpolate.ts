/**
 * `${VAR}` and `${VAR:-default}` in string values, applied to the parsed value (after YAML or
 * JSON parsing) so that a value can never inject structure and every position stays where it was. The environment is
 * passed in: nothing in config/ reads process.env.
 */
import { isScalar, parseDocument } from 'yaml'
import type { ConfigIssue } from '../errors.ts'
import type { ConfigPath, PathKey } from './config-path.ts'
import { formatConfigPath } from './config-path.ts'
import type { SourceDocument } from './parse.ts'

/** The environment interpolation reads from. */
export type Env = Readonly<Record<string, string | undefined>>

/** The interpolated document, the issues found, and the paths whose values could not be built. */
export interface InterpolationResult {
  readonly value: unknown
  readonly issues: readonly ConfigIssue[]
  /** Paths of values left un-interpolated; later checks skip them to avoid follow-on errors. */
  readonly failedPaths: readonly ConfigPath[]
}

/** One string after expansion, or why it cannot be expanded. */
export type ExpandResult =
  | { readonly ok: true; readonly value: string; readonly whole: boolean }
  | { readonly ok: false; readonly message: string }

const REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/

/**
 * Expands the references in `text`. `$${` is a literal `${`; a `$` not followed by `{` is kept.
 * `${VAR:-default}` uses the default when VAR is unset or empty (as in POSIX shells). `whole`
 * is true when the text was exactly one reference, so the caller may re-type the result.
 */
export function expandString(text: string, env: Env): ExpandResult {
  let out = ''
  let i = 0
  let refs = 0
  while (i < text.length) {
    const dollar = text.indexOf('$', i)
    if (dollar < 0) break
    out += text.slice(i, dollar)
    if (text.startsWith('$${', dollar)) {
      out += '${'
      i = dollar + 3
      continue
    }
    if (!text.startsWith('${', dollar)) {
      out += '$'
      i = dollar + 1
      continue
    }
    const close = text.indexOf('}', dollar + 2)
    if (close < 0) return { ok: false, message: `unterminated reference "${text.slice(dollar)}"` }
    const resolved = resolveReference(text.slice(dollar + 2, close), env)
    if (!resolved.ok) return resolved
    out += resolved.value
    refs++
    i = close + 1
  }
  out += text.slice(i)
  const whole = refs === 1 && text.startsWith('${') && text.indexOf('}') === text.length - 1
  return { ok: true, value: out, whole }
}

function resolveReference(inner: string, env: Env): ExpandResult {
  const m = REFERENCE.exec(inner)
  if (m === null) {
    return {
      ok: false,
      message: `invalid reference "\${${inner}}": expected \${NAME} or \${NAME:-default}`,
    }
  }
  const name = m[1] ?? ''
  const fallback = m[2]
  if (fallback?.includes('${') === true) {
    return { ok: false, message: `nested reference in the default of \${${name}} is not supported` }
  }
  const value = env[name]
  if (fallback !== undefined)
    return { ok: true, value: value === undefined || value === '' ? fallback : value, whole: false }
  if (value === undefined) return { ok: false, message: `environment variable ${name} is not set` }
  return { ok: true, value, whole: false }
}

/**
 * Reads a whole-reference result the way YAML reads a plain scalar, so `port: ${PORT}` is a
 * number and `enabled: ${ON:-true}` a boolean. Only numbers, booleans and null are re-typed:
 * any other text stays exactly the string it was (YAML would fold lines or strip quotes).
 */
export function retype(text: string): unknown {
  const doc = parseDocument(text)
  if (doc.errors.length > 0 || !isScalar(doc.contents)) return text
  const value = doc.contents.value
  return typeof value === 'number' || typeof value === 'boolean' || value === null ? value : text
}

/** How `interpolate` decides types. */
export interface InterpolateOptions {
  /**
   * True when the key at `path` expects a string, so a whole-reference value stays a string
   * (`name: ${NAME}` with NAME=123 is the name "123"). Default: no key does.
   */
  readonly expectsString?: (path: ConfigPath) => boolean
}

/**
 * Interpolates every string value of `document` (keys are left alone). A value that is exactly
 * one reference takes the type its key expects: re-typed by `retype` unless the key wants a
 * string. Quoting does not matter, so YAML and JSON (where every string is quoted) agree.
 */
export function interpolate(
  document: SourceDocument,
  env: Env,
  opts: InterpolateOptions = {},
): InterpolationResult {
  const issues: ConfigIssue[] = []
  const failedPaths: ConfigPath[] = []
  const expectsString = opts.expectsString ?? (() => false)
  // Copy on write over the plain value: untouched subtrees are returned as they are, so a
  // document without any `${…}` costs one walk and no allocation. The path is one stack, copied
  // only where a reference is found (a 10,000-route document has some 200,000 nodes).
  const path: PathKey[] = []
  const visit = (node: unknown): unknown => {
    if (typeof node === 'string') {
      // `$${` (a literal `${`) contains `${` too; a `$` before anything else stays as it is.
      if (!node.includes('${')) return node
      const here = [...path]
      const result = expandString(node, env)
      if (result.ok)
        return result.whole && !expectsString(here) ? retype(result.value) : result.value
      const where = document.positionOf(here)
      issues.push({
        path: formatConfigPath(here),
        line: where?.line ?? null,
        column: where?.column ?? null,
        message: result.message,
      })
      failedPaths.push(here)
      return node
    }
    if (Array.isArray(node)) {
      const items = node as unknown[]
      let out: unknown[] | null = null
      for (let i = 0; i < items.length; i++) {
        const item = items[i]
        path.push(i)
        const next = visit(item)
        path.pop()
        if (next !== item) (out ??= [...items])[i] = next
      }
      return out ?? items
    }
    if (node !== null && typeof node === 'object') {
      const record = node as Record<string, unknown>
      let out: Record<string, unknown> | null = null
      for (const key of Object.keys(record)) {
        const item = record[key]
        path.push(key)
        const next = visit(item)
        path.pop()
        if (next !== item) (out ??= { ...record })[key] = next
      }
      return out ?? node
    }
    return node
  }
  return { value: visit(document.value), issues, failedPaths }
}

/**
 * Validation of an interpolated document: the schema first, then (once the structure is sound)
 * the semantic checks. Every problem is collected and reported as a `ConfigIssue` with its path
 * and `line:column`; the first error never hides the others.
 */
import type { z } from 'zod'
import type { ConfigIssue } from '../errors.ts'
import type { ConfigPath, Finding, PathKey } from './config-path.ts'
import { formatConfigPath } from './config-path.ts'
import { suggestDurationUnit } from './formats.ts'
import type { Position } from './parse.ts'
import type { RawConfigDocument } from './schema.ts'
import { documentSchema } from './schema.ts'
import { allowedKeys, allowedValues, formatOf, schemaAt } from './schema-walk.ts'
import { checkSemantics, type SemanticContext } from './semantic.ts'
import { closestMatch } from './suggest.ts'

const MISSING = 'missing required key'

/** Maps a config path to where its node starts in the source (see `SourceDocument`). */
export interface Locator {
  positionOf(path: ConfigPath, at?: 'key' | 'value'): Position | null
}

/** The typed document, or every issue found. */
export type ValidationResult =
  | { readonly ok: true; readonly value: RawConfigDocument }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] }

/** Validates `value` against the schema and, if it is well-formed, the semantic rules. */
export function validateDocument(
  value: unknown,
  locator: Locator,
  context: SemanticContext = {},
): ValidationResult {
  const parsed = documentSchema.safeParse(value)
  const findings = parsed.success
    ? checkSemantics(parsed.data, context)
    : fromZodIssues(parsed.error.issues, value)
  if (parsed.success && findings.length === 0) return { ok: true, value: parsed.data }
  return { ok: false, issues: toConfigIssues(findings, locator) }
}

/** Locates findings, drops exact duplicates and orders them by position, then path. */
export function toConfigIssues(findings: readonly Finding[], locator: Locator): ConfigIssue[] {
  const seen = new Set<string>()
  const issues: ConfigIssue[] = []
  for (const finding of findings) {
    const where = locator.positionOf(finding.path, finding.at ?? 'value')
    const issue: ConfigIssue = {
      path: formatConfigPath(finding.path),
      line: where?.line ?? null,
      column: where?.column ?? null,
      message: finding.message,
      ...(finding.hint === undefined ? {} : { hint: finding.hint }),
    }
    const key = `${issue.path}\0${issue.message}`
    if (!seen.has(key)) issues.push(issue)
    seen.add(key)
  }
  return issues.sort(compareIssues)
}

/** Document order: issues without a position first, then by line, column and path. */
export function compareIssues(a: ConfigIssue, b: ConfigIssue): number {
  return (
    (a.line ?? 0) - (b.line ?? 0) ||
    (a.column ?? 0) - (b.column ?? 0) ||
    (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
  )
}

function toPath(path: readonly PropertyKey[]): PathKey[] {
  return path.map((key) => (typeof key === 'number' ? key : String(key)))
}

function valueAt(root: unknown, path: ConfigPath): unknown {
  let node = root
  for (const key of path) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) return undefined
    node = (node as Record<PathKey, unknown>)[key]
  }
  return node
}

/**
 * Turns zod issues into user-facing findings. A required key reported missing is left out when
 * an unknown key beside it is a typo of it (`adress`): the "did you mean" already says it all.
 */
export function fromZodIssues(issues: readonly z.core.$ZodIssue[], root: unknown): Finding[] {
  const findings = issues.flatMap((issue) => fromZodIssue(issue, root))
  const typoOf = new Set(
    findings
      .filter((f) => f.at === 'key' && f.hint !== undefined)
      .map((f) => formatConfigPath([...f.path.slice(0, -1), f.hint ?? ''])),
  )
  return findings.filter(
    (f) => !(f.message.startsWith(MISSING) && typoOf.has(formatConfigPath(f.path))),
  )
}

/** Turns one zod issue into user-facing findings (several for several unknown keys). */
export function fromZodIssue(issue: z.core.$ZodIssue, root: unknown): Finding[] {
  const path = toPath(issue.path)
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => unknownKey(path, key))
    case 'invalid_type':
      return [typeFinding(path, issue.expected, root)]
    case 'too_small':
    case 'too_big':
      return [{ path, message: sizeMessage(issue) }]
    case 'invalid_value':
    case 'invalid_union':
      return [choiceFinding(path, issue, root)]
    case 'invalid_key':
      return [{ path, message: issue.issues[0]?.message ?? issue.message, at: 'key' }]
    case 'custom':
      return [{ path, message: issue.message, hint: hintOf(issue.params) }]
    case 'invalid_format':
    case 'invalid_element':
    case 'not_multiple_of':
      return [{ path, message: issue.message }]
  }
}

function hintOf(params: Record<string, unknown> | undefined): string | undefined {
  const hint = params?.['hint']
  return typeof hint === 'string' ? hint : undefined
}

function unknownKey(parent: PathKey[], key: string): Finding {
  const allowed = allowedKeys(schemaAt(documentSchema, parent))
  const hint = closestMatch(key, allowed)
  const message =
    hint === undefined && allowed.length > 0
      ? `unknown key "${key}" (allowed: ${allowed.join(', ')})`
      : `unknown key "${key}"`
  return { path: [...parent, key], message, hint, at: 'key' }
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
  tuple: 'a list',
}

function typeFinding(path: PathKey[], expected: string, root: unknown): Finding {
  const actual = valueAt(root, path)
  if (path.length === 0 && (actual === null || actual === undefined)) {
    return { path, message: 'the document is empty; expected a mapping with at least `listeners`' }
  }
  if (actual === undefined) return { path, message: `${MISSING} "${String(path.at(-1))}"` }
  const format = formatOf(schemaAt(documentSchema, path))
  if (format === 'duration' && typeof actual === 'number') {
    return {
      path,
      message: `duration ${actual} has no unit (ms, s, m or h)`,
      hint: suggestDurationUnit(actual),
    }
  }
  const name = TYPE_NAMES[expected] ?? expected
  const what = format === undefined ? name : `${name} (${format})`
  const hint =
    format === 'address' && typeof actual === 'number' ? `127.0.0.1:${actual}` : undefined
  return { path, message: `expected ${what}, got ${describeValue(actual)}`, hint }
}

function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)
  }
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value
}

function sizeMessage(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  const small = issue.code === 'too_small'
  const bound = Number(small ? issue.minimum : issue.maximum)
  if (issue.origin === 'array') {
    if (small && bound === 1) return 'must not be empty'
    return `must have ${small ? 'at least' : 'at most'} ${bound} item${bound === 1 ? '' : 's'}`
  }
  if (issue.origin === 'string') {
    return small && bound === 1
      ? 'must not be empty'
      : `must have ${small ? 'at least' : 'at most'} ${bound} characters`
  }
  if (issue.inclusive === false) return `must be ${small ? 'greater' : 'less'} than ${bound}`
  return `must be ${small ? 'at least' : 'at most'} ${bound}`
}

function choiceFinding(path: PathKey[], issue: z.core.$ZodIssue, root: unknown): Finding {
  const actual = valueAt(root, path)
  const allowed = [...new Set(allowedValues(schemaAt(documentSchema, path)).map(String))]
  const hint = typeof actual === 'string' ? closestMatch(actual, allowed) : undefined
  const list = allowed.length > 0 ? `expected one of ${allowed.join(', ')}` : issue.message
  return { path, message: `${list}, got ${describeValue(actual)}`, hint }
}

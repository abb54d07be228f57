/**
 * Text → YAML tree and plain value, keeping source positions so that any config path can be
 * mapped back to `line:column`. JSON is read by the same parser (it is YAML) after a strict
 * JSON syntax check. No interpolation here: see `interpolate.ts`.
 */
import type { Document, Node, Pair } from 'yaml'
import {
  isAlias,
  isCollection,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
} from 'yaml'
import type { ConfigIssue } from '../errors.ts'
import type { ConfigPath, PathKey } from './config-path.ts'
import { formatConfigPath } from './config-path.ts'
import { findDuplicateKey, findJsonSyntaxError } from './json-syntax.ts'

/** The two document syntaxes; JSON is read as YAML but checked and reported as JSON. */
export type ConfigFormat = 'yaml' | 'json'

/** A 1-based position in the source text. */
export interface Position {
  readonly line: number
  readonly column: number
}

/** A parsed document: its YAML tree, its plain value and a path → position lookup. */
export interface SourceDocument {
  readonly format: ConfigFormat
  /** The YAML tree; `interpolate.ts` works on a clone of it. Do not modify. */
  readonly tree: Document.Parsed
  /** The document as plain data, before interpolation. */
  readonly value: unknown
  /**
   * Where the node at `path` starts: its value, or its key with `at: 'key'`. A path that does
   * not exist (a missing key) resolves to the deepest node that does.
   */
  positionOf(path: ConfigPath, at?: 'key' | 'value'): Position | null
}

/** A parsed document, or every syntax issue found. */
export type ParseResult =
  | { readonly ok: true; readonly document: SourceDocument }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] }

// Bounds alias expansion: a "billion laughs" document is rejected, not expanded.
const MAX_ALIAS_COUNT = 100

/**
 * Picks the syntax from the source name (`.json`) or, failing that, from the content: text that
 * starts like JSON and is valid JSON is JSON, anything else YAML.
 */
export function detectFormat(source: string, text: string): ConfigFormat {
  if (/\.json$/i.test(source)) return 'json'
  if (/\.ya?ml$/i.test(source)) return 'yaml'
  return /^\s*[{[]/.test(text) && jsonValue(text) !== NOT_JSON ? 'json' : 'yaml'
}

/** Parses `text`; a syntax error, duplicate key, bad alias or unknown tag fails the parse. */
export function parseConfigText(text: string, format: ConfigFormat): ParseResult {
  if (format === 'json') {
    const value = jsonValue(text)
    lastJson = null
    if (value !== NOT_JSON && findDuplicateKey(text) === null) {
      return { ok: true, document: fastJsonDocument(text, value) }
    }
  }
  // Invalid JSON, or a duplicate key: the slow path says where and why.
  return parseWithPositions(text, format)
}

const NOT_JSON: unique symbol = Symbol('not JSON')

/**
 * The last text JSON.parse read, and its value: detectFormat and parseConfigText parse the same
 * text one after the other, and a 10,000-route document takes milliseconds to parse. The value
 * is handed out once (parseConfigText clears it), so no two loads share objects.
 */
let lastJson: { readonly text: string; readonly value: unknown } | null = null

/** JSON.parse of `text` (native, strict RFC 8259), or NOT_JSON. */
function jsonValue(text: string): unknown {
  if (lastJson?.text === text) return lastJson.value
  let value: unknown
  try {
    value = JSON.parse(text) as unknown
  } catch {
    return NOT_JSON
  }
  lastJson = { text, value }
  return value
}

/**
 * A valid JSON document (JSON.parse) without duplicate keys is served from JSON.parse's value, and the YAML tree (only
 * needed to place an error at its line:column) is built on first use. For a 10,000-route
 * document this is the difference between ~15 ms and ~500 ms (bench/RESULTS.md, "Hot reload"),
 * and most applied documents have no error at all.
 */
function fastJsonDocument(text: string, value: unknown): SourceDocument {
  let slow: SourceDocument | undefined
  const withPositions = (): SourceDocument => {
    if (slow !== undefined) return slow
    const parsed = parseWithPositions(text, 'json')
    // The text passed the strict check above, so the YAML reading cannot fail.
    if (!parsed.ok) throw new Error('valid JSON was refused by the YAML parser')
    slow = parsed.document
    return slow
  }
  return {
    format: 'json',
    get tree() {
      return withPositions().tree
    },
    value,
    positionOf: (path, at) => withPositions().positionOf(path, at),
  }
}

function parseWithPositions(text: string, format: ConfigFormat): ParseResult {
  const lineCounter = new LineCounter()
  const tree = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const at = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset)
    return { line, column: col }
  }
  const issues = syntaxIssues(text, format, tree, at)
  if (issues.length > 0) return { ok: false, issues }
  let value: unknown
  try {
    value = tree.toJS({ maxAliasCount: MAX_ALIAS_COUNT })
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    return { ok: false, issues: [{ path: '', line: null, column: null, message }] }
  }
  const positionOf = (path: ConfigPath, where: 'key' | 'value' = 'value'): Position | null => {
    const offset = offsetOf(tree, path, where)
    return offset === undefined ? null : at(offset)
  }
  return { ok: true, document: { format, tree, value, positionOf } }
}

function syntaxIssues(
  text: string,
  format: ConfigFormat,
  tree: Document.Parsed,
  at: (offset: number) => Position,
): ConfigIssue[] {
  if (format === 'json') {
    const err = findJsonSyntaxError(text)
    if (err !== null)
      return [{ path: '', ...at(err.offset), message: `JSON syntax error: ${err.message}` }]
  }
  const issues: ConfigIssue[] = []
  const seen = new Set<number>()
  for (const err of [...tree.errors, ...tree.warnings]) {
    // One broken construct often yields a cascade of errors at the same spot: keep the first.
    if (seen.has(err.pos[0])) continue
    seen.add(err.pos[0])
    const where = at(err.pos[0])
    if (err.code === 'DUPLICATE_KEY') {
      const path = formatConfigPath(pathAtOffset(tree, err.pos[0]))
      issues.push({ path, ...where, message: 'duplicate key' })
    } else if (err.code === 'MULTIPLE_DOCS') {
      issues.push({ path: '', ...where, message: 'a config must be a single YAML document' })
    } else {
      issues.push({ path: '', ...where, message: `YAML syntax error: ${err.message}` })
    }
  }
  return [...issues, ...aliasIssues(tree, at)]
}

/** Aliases to undefined anchors, and aliases inside their own anchor (an infinite value). */
function aliasIssues(tree: Document.Parsed, at: (offset: number) => Position): ConfigIssue[] {
  const issues: ConfigIssue[] = []
  const walk = (node: unknown, path: PathKey[], ancestors: unknown[]): void => {
    if (isAlias(node)) {
      const target = node.resolve(tree)
      const problem =
        target === undefined
          ? `unknown alias *${node.source}`
          : ancestors.includes(target)
            ? `alias *${node.source} refers to a node containing it`
            : undefined
      if (problem !== undefined) {
        issues.push({ path: formatConfigPath(path), ...at(node.range?.[0] ?? 0), message: problem })
      }
      return
    }
    for (const [key, child] of childrenOf(node)) walk(child, [...path, key], [...ancestors, node])
  }
  walk(tree.contents, [], [])
  return issues
}

function keyOf(pair: Pair): string {
  return isScalar(pair.key) ? String(pair.key.value) : String(pair.key)
}

function childrenOf(node: unknown): Array<[PathKey, unknown]> {
  if (isMap(node)) return node.items.map((pair) => [keyOf(pair), pair.value])
  if (isSeq(node)) return node.items.map((item, i) => [i, item])
  return []
}

/** The path of the innermost key or item whose range contains `offset`. */
function pathAtOffset(tree: Document.Parsed, offset: number): PathKey[] {
  const path: PathKey[] = []
  let node: unknown = tree.contents
  while (isCollection(node)) {
    const step = stepContaining(node.items, offset)
    if (step === undefined) break
    path.push(isMap(node) ? keyOf(step as Pair) : node.items.indexOf(step))
    if (isPair(step) && contains(step.key, offset)) break
    node = isPair(step) ? step.value : step
  }
  return path
}

function stepContaining(items: readonly unknown[], offset: number): unknown {
  return items.find((item) =>
    isPair(item)
      ? contains(item.key, offset) || contains(item.value, offset)
      : contains(item, offset),
  )
}

function contains(node: unknown, offset: number): boolean {
  const range = (node as Node | null)?.range
  return range !== undefined && range !== null && offset >= range[0] && offset < range[2]
}

function offsetOf(
  tree: Document.Parsed,
  path: ConfigPath,
  where: 'key' | 'value',
): number | undefined {
  let node: unknown = tree.contents
  let keyNode: unknown
  let parent: unknown
  for (const key of path) {
    const resolved = isAlias(node) ? node.resolve(tree) : node
    const pair = isMap(resolved) ? resolved.items.find((p) => keyOf(p) === String(key)) : undefined
    const item = isSeq(resolved) && typeof key === 'number' ? resolved.items[key] : undefined
    if (pair === undefined && item === undefined) break
    parent = node
    keyNode = pair?.key
    node = pair === undefined ? item : pair.value
  }
  if (where === 'key' && keyNode !== undefined) return startOf(keyNode)
  return startOf(node) ?? startOf(keyNode) ?? startOf(parent)
}

// An empty value (`key:` or `-` with nothing after it) has no useful position of its own; the
// caller falls back to its key, or to its list.
function startOf(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range
  const empty = isScalar(node) && node.value === null && node.source === ''
  return range === undefined || range === null || empty ? undefined : range[0]
}

/**
 * docs/config.md stays in step with the schema: its generated reference equals the rendering,
 * every key is described, and the JSON Schema export the docs promise works.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { z } from 'zod'
import {
  BEGIN_MARKER,
  END_MARKER,
  generatedSection,
  renderConfigReference,
  replaceGeneratedSection,
  typeLabel,
} from '../../../src/config/config-docs.ts'
import { documentSchema } from '../../../src/config/schema.ts'
import { descriptionOf, unwrapOptional } from '../../../src/config/schema-walk.ts'
import { repoRoot } from './helpers.ts'

const REGENERATE =
  'regenerate it: npx tsc -p tsconfig.json && node build/src/config/config-docs.js docs/config.md'

test('docs/config.md holds the current rendering of the schema', () => {
  const markdown = readFileSync(join(repoRoot(), 'docs', 'config.md'), 'utf8')
  const section = generatedSection(markdown)
  assert.ok(
    section !== undefined,
    `docs/config.md lacks the generated-reference markers; ${REGENERATE}`,
  )
  assert.equal(section, renderConfigReference(), `docs/config.md is out of date; ${REGENERATE}`)
})

function undescribed(schema: z.ZodType, path: string): string[] {
  const own = descriptionOf(schema) === undefined ? [path] : []
  return [...own, ...undescribedInside(schema, path)]
}

// List items and map values are described by their list or map, so only their keys count.
function undescribedInside(schema: z.ZodType, path: string): string[] {
  const inner = unwrapOptional(schema).schema
  if (inner instanceof z.ZodObject) {
    return Object.entries<z.ZodType>(inner.shape).flatMap(([k, v]) =>
      undescribed(v, `${path}.${k}`),
    )
  }
  if (inner instanceof z.ZodArray) return undescribedInside(inner.element as z.ZodType, `${path}[]`)
  if (inner instanceof z.ZodRecord)
    return undescribedInside(inner.valueType as z.ZodType, `${path}.*`)
  return []
}

test('every key of the schema has a description', () => {
  assert.deepStrictEqual(undescribed(documentSchema, '(root)'), [])
  const sloppy = z.strictObject({
    a: z.string().describe('a'),
    b: z.array(z.strictObject({ c: z.int() })),
  })
  assert.deepStrictEqual(undescribed(sloppy, '(root)'), ['(root)', '(root).b', '(root).b[].c'])
})

test('the reference names every key with its type and whether it is required', () => {
  const reference = renderConfigReference()
  assert.match(reference, /^### Top level$/m)
  assert.match(reference, /^### `upstreams\.<name>\.targets\[\]`$/m)
  assert.match(reference, /^- `address` \(address, required\): /m)
  assert.match(reference, /^- `connect` \(duration, optional\): .*Default `5s`\./m)
  assert.match(
    reference,
    /^- `connect` \(duration, optional\): .*Default: `defaults\.timeouts\.connect`\./m,
  )
  assert.match(reference, /^- `port` \(integer 1-65535, required\)/m)
  assert.match(reference, /^- `status` \(one of `301`, `302`, `303`, `307`, `308`, optional\)/m)
  assert.match(reference, /^- `on` \(list of retry conditions, optional\)/m)
})

test('type labels name formats, ranges, lists, maps and choices', () => {
  assert.equal(typeLabel(z.int().min(1)), 'integer ≥ 1')
  assert.equal(typeLabel(z.int().max(3)), 'integer ≤ 3')
  assert.equal(typeLabel(z.number()), 'number')
  assert.equal(typeLabel(z.boolean().optional()), 'boolean')
  assert.equal(typeLabel(z.array(z.strictObject({}))), 'list of objects')
  assert.equal(typeLabel(z.record(z.string(), z.string())), 'map of name → string')
  assert.equal(typeLabel(z.tuple([z.string(), z.int()])), '[string, integer]')
  assert.equal(typeLabel(z.enum(['a', 'b'])), 'one of `a`, `b`')
  assert.equal(typeLabel(z.null()), 'value')
})

test('the generated section is replaced between its markers and read back unchanged', () => {
  const doc = `# Title\n\nprose\n\n${BEGIN_MARKER}\n\nold\n${END_MARKER}\n\nmore prose\n`
  const updated = replaceGeneratedSection(doc, 'new reference\n')
  assert.equal(
    updated,
    `# Title\n\nprose\n\n${BEGIN_MARKER}\n\nnew reference\n\n${END_MARKER}\n\nmore prose\n`,
  )
  assert.equal(generatedSection(updated), 'new reference\n')
  assert.equal(generatedSection('no markers'), undefined)
  assert.throws(() => replaceGeneratedSection('no markers', 'x'), /markers/)
})

test('the schema exports to a strict JSON Schema with descriptions, for editors', () => {
  const schema = z.toJSONSchema(documentSchema, { io: 'input', unrepresentable: 'any' }) as {
    additionalProperties?: unknown
    required?: string[]
    properties?: Record<string, { description?: string }>
  }
  assert.equal(schema.additionalProperties, false)
  assert.deepStrictEqual(schema.required, ['listeners'])
  assert.match(schema.properties?.['listeners']?.description ?? '', /accepts traffic/)
})

test('run as a script, it prints the reference or rewrites a file between the markers', () => {
  const script = join(repoRoot(), 'build', 'src', 'config', 'config-docs.js')
  assert.equal(
    execFileSync(process.execPath, [script], { encoding: 'utf8' }),
    renderConfigReference(),
  )
  const dir = mkdtempSync(join(tmpdir(), 'hitless-docs-'))
  try {
    const file = join(dir, 'config.md')
    writeFileSync(file, `intro\n\n${BEGIN_MARKER}\n\nstale\n${END_MARKER}\n`)
    execFileSync(process.execPath, [script, file])
    assert.equal(generatedSection(readFileSync(file, 'utf8')), renderConfigReference())
    assert.match(readFileSync(file, 'utf8'), /^intro\n/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

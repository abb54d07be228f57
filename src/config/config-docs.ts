/**
 * Renders the key reference of docs/config.md from the schema's descriptions, so the docs can
 * not drift from the code (a unit test compares them). Run as a script to regenerate:
 * `npx tsc -p tsconfig.json && node build/src/config/config-docs.js docs/config.md`.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { pathToFileURL } from 'node:url'
import { z } from 'zod'
import { documentSchema } from './schema.ts'
import { allowedValues, descriptionOf, formatOf, unwrapOptional } from './schema-walk.ts'

/** Marks the start of the generated part of docs/config.md. */
export const BEGIN_MARKER =
  '<!-- BEGIN GENERATED REFERENCE (src/config/config-docs.ts); do not edit by hand -->'
/** Marks the end of the generated part of docs/config.md. */
export const END_MARKER = '<!-- END GENERATED REFERENCE -->'

interface Section {
  readonly title: string
  readonly schema: z.ZodObject
  readonly description: string | undefined
}

/** The Markdown reference of every key, one section per object, in declaration order. */
export function renderConfigReference(): string {
  const sections: Section[] = []
  collectSections('', documentSchema, sections)
  return sections.map(renderSection).join('\n')
}

// A list's or map's description says what its items are: it heads the items' section.
function collectSections(
  title: string,
  schema: z.ZodType,
  out: Section[],
  described?: string,
): void {
  const inner = unwrapOptional(schema).schema
  const description = descriptionOf(schema) ?? described
  if (inner instanceof z.ZodObject) {
    out.push({ title, schema: inner, description })
    for (const [key, child] of Object.entries<z.ZodType>(inner.shape)) {
      collectSections(title === '' ? key : `${title}.${key}`, child, out)
    }
  } else if (inner instanceof z.ZodArray) {
    collectSections(`${title}[]`, inner.element as z.ZodType, out, description)
  } else if (inner instanceof z.ZodRecord) {
    collectSections(`${title}.<name>`, inner.valueType as z.ZodType, out, description)
  }
}

function renderSection(section: Section): string {
  const heading = section.title === '' ? '### Top level' : `### \`${section.title}\``
  const lines = [heading, '']
  if (section.description !== undefined) lines.push(section.description, '')
  for (const [key, child] of Object.entries<z.ZodType>(section.schema.shape)) {
    const required = unwrapOptional(child).optional ? 'optional' : 'required'
    const text = descriptionOf(child) ?? ''
    lines.push(`- \`${key}\` (${typeLabel(child)}, ${required}): ${text}`)
  }
  return `${lines.join('\n')}\n`
}

/** A short type name for docs: `duration`, `integer ≥ 1`, `list of objects`, `one of …`. */
export function typeLabel(schema: z.ZodType): string {
  const inner = unwrapOptional(schema).schema
  const format = formatOf(inner)
  if (format !== undefined) return format
  if (inner instanceof z.ZodNumber) return numberLabel(inner)
  if (inner instanceof z.ZodBoolean) return 'boolean'
  if (inner instanceof z.ZodString) return 'string'
  if (inner instanceof z.ZodObject) return 'object'
  if (inner instanceof z.ZodArray) return `list of ${plural(typeLabel(inner.element as z.ZodType))}`
  if (inner instanceof z.ZodRecord) {
    const key = formatOf(inner.keyType as z.ZodType) ?? 'name'
    return `map of ${key} → ${typeLabel(inner.valueType as z.ZodType)}`
  }
  if (inner instanceof z.ZodTuple) {
    const items = (inner._zod.def.items as readonly z.ZodType[]).map(typeLabel)
    return `[${items.join(', ')}]`
  }
  const values = [...new Set(allowedValues(inner).map(String))]
  return values.length > 0 ? `one of ${values.map((v) => `\`${v}\``).join(', ')}` : 'value'
}

function plural(label: string): string {
  return /^(one of|map of|list of|integer|number|\[)/.test(label) ? label : `${label}s`
}

function numberLabel(schema: z.ZodNumber): string {
  const kind = schema.isInt ? 'integer' : 'number'
  const min = realBound(schema.minValue)
  const max = realBound(schema.maxValue)
  if (min !== undefined && max !== undefined) return `${kind} ${min}-${max}`
  if (min !== undefined) return `${kind} ≥ ${min}`
  return max === undefined ? kind : `${kind} ≤ ${max}`
}

// z.int() carries the safe-integer range as bounds; those are not worth printing.
function realBound(bound: number | null): number | undefined {
  return bound === null || Math.abs(bound) >= Number.MAX_SAFE_INTEGER ? undefined : bound
}

/** Replaces the text between the markers of `markdown` with `reference`. */
export function replaceGeneratedSection(markdown: string, reference: string): string {
  const begin = markdown.indexOf(BEGIN_MARKER)
  const end = markdown.indexOf(END_MARKER)
  if (begin < 0 || end < begin)
    throw new Error(`the markers ${BEGIN_MARKER} … ${END_MARKER} are missing`)
  return `${markdown.slice(0, begin + BEGIN_MARKER.length)}\n\n${reference}\n${markdown.slice(end)}`
}

/** The text between the markers, or undefined when they are missing. */
export function generatedSection(markdown: string): string | undefined {
  const begin = markdown.indexOf(BEGIN_MARKER)
  const end = markdown.indexOf(END_MARKER)
  if (begin < 0 || end < begin) return undefined
  return markdown
    .slice(begin + BEGIN_MARKER.length, end)
    .replace(/^\n\n/, '')
    .replace(/\n$/, '')
}

async function main(file: string | undefined): Promise<void> {
  if (file === undefined) {
    process.stdout.write(renderConfigReference())
    return
  }
  const markdown = await readFile(file, 'utf8')
  await writeFile(file, replaceGeneratedSection(markdown, renderConfigReference()))
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv[2])
}

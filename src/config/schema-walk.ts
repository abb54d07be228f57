/**
 * Reading the schema as data: which schema sits at a path, which keys or values it allows, its
 * description and format. Used for "did you mean" hints and to render docs/config.md.
 */
import { z } from 'zod'
import type { ConfigPath, PathKey } from './config-path.ts'
import { formatRegistry } from './schema.ts'

/** The schema inside any `.optional()` wrappers, and whether there was one. */
export function unwrapOptional(schema: z.ZodType): { schema: z.ZodType; optional: boolean } {
  let inner = schema
  let optional = false
  while (inner instanceof z.ZodOptional) {
    inner = inner.unwrap() as z.ZodType
    optional = true
  }
  return { schema: inner, optional }
}

/** The schema of `key` inside `schema` (an object key, a list item, a map value, a tuple slot). */
export function childSchema(schema: z.ZodType, key: PathKey): z.ZodType | undefined {
  const inner = unwrapOptional(schema).schema
  if (inner instanceof z.ZodObject) {
    return typeof key === 'string' ? (inner.shape as Record<string, z.ZodType>)[key] : undefined
  }
  if (inner instanceof z.ZodArray) return inner.element as z.ZodType
  if (inner instanceof z.ZodRecord) return inner.valueType as z.ZodType
  if (inner instanceof z.ZodTuple && typeof key === 'number') {
    return (inner._zod.def.items as readonly z.ZodType[])[key]
  }
  return undefined
}

/** The schema that validates the node at `path`, if the path exists in the schema. */
export function schemaAt(root: z.ZodType, path: ConfigPath): z.ZodType | undefined {
  let schema: z.ZodType | undefined = root
  for (const key of path) {
    if (schema === undefined) return undefined
    schema = childSchema(schema, key)
  }
  return schema
}

/** The keys an object schema allows, in declaration order; empty for anything else. */
export function allowedKeys(schema: z.ZodType | undefined): string[] {
  const inner = schema === undefined ? undefined : unwrapOptional(schema).schema
  return inner instanceof z.ZodObject ? Object.keys(inner.shape) : []
}

/**
 * The values an enum, literal or union of them allows, words before numbers (zod keeps enum
 * values as object keys, which puts numeric strings first); empty for anything else.
 */
export function allowedValues(schema: z.ZodType | undefined): Array<string | number> {
  const values = rawValues(schema)
  const numeric = (v: string | number): boolean => /^\d+$/.test(String(v))
  return [...values.filter((v) => !numeric(v)), ...values.filter(numeric)]
}

function rawValues(schema: z.ZodType | undefined): Array<string | number> {
  const inner = schema === undefined ? undefined : unwrapOptional(schema).schema
  if (inner instanceof z.ZodEnum) return [...(inner.options as Array<string | number>)]
  if (inner instanceof z.ZodLiteral) return [...(inner.values as Set<string | number>)]
  if (inner instanceof z.ZodUnion) {
    return (inner.options as z.ZodType[]).flatMap((option) => rawValues(option))
  }
  return []
}

/** The string format (`duration`, `address`, …) registered for a schema, if any. */
export function formatOf(schema: z.ZodType | undefined): string | undefined {
  const inner = schema === undefined ? undefined : unwrapOptional(schema).schema
  return inner === undefined ? undefined : formatRegistry.get(inner)?.format
}

/** The user-facing description of a schema, looking through `.optional()`. */
export function descriptionOf(schema: z.ZodType): string | undefined {
  return schema.description ?? unwrapOptional(schema).schema.description
}

/** True when the schema at `path` takes a string (of any format). */
export function expectsString(root: z.ZodType, path: ConfigPath): boolean {
  const schema = schemaAt(root, path)
  return schema !== undefined && unwrapOptional(schema).schema instanceof z.ZodString
}

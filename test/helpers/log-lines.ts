/**
 * The CLI's stdout as log entries: each line parsed as pino's JSON, a line that is not JSON
 * kept as `{ raw }` (so a test sees it rather than losing it).
 */
export function parseLogLine(line: string): Record<string, unknown> {
  try {
    return JSON.parse(line) as Record<string, unknown>
  } catch {
    return { raw: line }
  }
}

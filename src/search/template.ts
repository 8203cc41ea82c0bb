// Turns variable text into a template: the parts that differ between occurrences of "the same"
// message (numbers, IDs, timestamps, addresses, paths, quoted values, SQL literals) become
// placeholders, so a million log lines from a thousand format strings embed as a thousand texts.

// Order matters: the widest shapes first, so a UUID is not eaten piecewise by the hex and number rules.
const RULES: readonly [RegExp, string][] = [
  // The redaction processor's markers: which rule fired says nothing about what happened, and its
  // name ("sensitiveKey", "secretAssignment") would match the query words "key" and "secret".
  [/<redacted:[A-Za-z]+>/g, '<redacted>'],
  // ISO-8601 and common log timestamps (2024-05-01T12:00:00.123Z, 2024-05-01 12:00:00,123)
  [/\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?/g, '<ts>'],
  [/\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b/g, '<ts>'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>'],
  [/\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b/g, '<email>'],
  [/\bhttps?:\/\/[^\s"'<>]+/g, '<url>'],
  [/\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b/g, '<ip>'],
  [/\b(?:[0-9a-f]{1,4}:){3,7}[0-9a-f]{1,4}\b/gi, '<ip>'],
  // Double- and single-quoted values; backquotes are left (often identifiers in SQL)
  [/"[^"\n]*"/g, '<str>'],
  [/'[^'\n]*'/g, '<str>'],
  // Filesystem-like paths with at least two segments (/var/lib/x, C:\x\y); URL routes are kept when
  // they have a placeholder already, so only absolute paths of plain words go.
  [/(?:^|(?<=[\s=(:]))(?:\/[\w.@~-]+){2,}\/?/g, '<path>'],
  [/\b[A-Za-z]:\\(?:[\w.-]+\\)*[\w.-]+/g, '<path>'],
  [/\b0x[0-9a-f]+\b/gi, '<hex>'],
  // Long hex runs (trace IDs, hashes, container IDs) and mixed alphanumeric tokens with digits
  [/\b[0-9a-f]{12,}\b/gi, '<hex>'],
  [/\b(?=[A-Za-z_-]*\d)(?=\d*[A-Za-z_])[A-Za-z0-9_-]{16,}\b/g, '<id>'],
  // Numbers; a unit stays (30s → <num>s keeps "seconds"), a name with a dash stays (gpt-4o, http-2)
  [/(?<![\w<]|[A-Za-z]-)[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?/gi, '<num>'],
];

/** The template of a log body: variable parts masked, whitespace collapsed. */
export function logTemplate(body: string): string {
  let out = body;
  for (const [re, token] of RULES) out = out.replace(re, token);
  return out.replace(/\s+/g, ' ').trim();
}

/**
 * A SQL statement with its literals stripped: strings, numbers and IN-lists become `?`, so the same
 * query shape with other values is the same text.
 */
export function stripSqlLiterals(sql: string): string {
  return sql
    .replace(/'(?:[^']|'')*'/g, '?')
    .replace(/"(?:[^"]|"")*"(?=\s*(?:,|\)|$|\bAND\b|\bOR\b))/gi, '?')
    .replace(/\b0x[0-9a-f]+\b/gi, '?')
    .replace(/(?<![\w$])[-+]?\d+(?:\.\d+)?\b/g, '?')
    .replace(/\(\s*\?(?:\s*,\s*\?)*\s*\)/g, '(?)')
    .replace(/\s+/g, ' ')
    .trim();
}

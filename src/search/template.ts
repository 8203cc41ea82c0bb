// Turns variable text into a template: the parts that differ between occurrences of "the same"
// message (numbers, IDs, timestamps, addresses, paths, quoted values, SQL literals) become
// placeholders, so a million log lines from a thousand format strings embed as a thousand texts.

/**
 * The most characters of one input a template reads: 4 × the embedded text's 512 (placeholders
 * shorten a text, rarely by 4×). The rest could not reach the text, and cutting before any rule runs
 * bounds the work per record whatever a client sends (a 1 MB body costs what 2,048 characters do).
 */
export const MAX_TEMPLATE_INPUT = 2048;

/** The first MAX_TEMPLATE_INPUT characters, then `…` when there were more. */
const cutToBudget = (s: string) => (s.length > MAX_TEMPLATE_INPUT ? `${s.slice(0, MAX_TEMPLATE_INPUT)}…` : s);

const REDACTION_MARKER = /<redacted:[A-Za-z]+>/g;

/**
 * The redaction processor's markers without their rule's name: which rule fired says nothing about
 * what happened, and its name ("sensitiveKey", "secretAssignment") would match the query words "key"
 * and "secret". For values that are not templated (logTemplate does it too).
 */
export function maskRedactionMarkers(value: string): string {
  return value.replace(REDACTION_MARKER, '<redacted>');
}

// Order matters: the widest shapes first, so a UUID is not eaten piecewise by the hex and number rules.
// Every rule runs in time linear in its input: a rule that scans ahead (a look-ahead, a run of
// characters before `@`) starts only where its run starts, never at each position inside one, or a
// run like `a-a-a-…` or `a.a.a.…` is scanned again from each of its word boundaries (quadratic).
const RULES: readonly [RegExp, string][] = [
  [REDACTION_MARKER, '<redacted>'],
  // ISO-8601 and common log timestamps (2024-05-01T12:00:00.123Z, 2024-05-01 12:00:00,123)
  [/\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?/g, '<ts>'],
  [/\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b/g, '<ts>'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>'],
  // The local part starts where its run of [\w.+-] starts (not at each `\b` inside it).
  [/(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b/g, '<email>'],
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
  // Long hex runs (trace IDs, hashes, container IDs) and mixed alphanumeric tokens with digits. The
  // digit must be in the token's first word (the look-ahead stops at `-`), so the look-ahead reads
  // each word once: `order-ab12cd34ef56gh78ij` keeps its word, `order-<id>`.
  [/\b[0-9a-f]{12,}\b/gi, '<hex>'],
  [/\b(?=[A-Za-z_]*\d)(?=\d*[A-Za-z_])[A-Za-z0-9_-]{16,}\b/g, '<id>'],
  // Numbers; a unit stays (30s → <num>s keeps "seconds"), a name with a dash stays (gpt-4o, http-2)
  [/(?<![\w<]|[A-Za-z]-)[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?/gi, '<num>'],
];

/** The template of a log body (its first MAX_TEMPLATE_INPUT characters): variable parts masked, whitespace collapsed. */
export function logTemplate(body: string): string {
  let out = cutToBudget(body);
  for (const [re, token] of RULES) out = out.replace(re, token);
  return out.replace(/\s+/g, ' ').trim();
}

// A double-quoted SQL token, and what must follow it for it to be a string literal (MySQL), not an
// identifier ("orders"): checked at the token's end rather than in a look-ahead, which would make a
// failed token be scanned again from each quote inside it.
const DOUBLE_QUOTED = /"(?:[^"]|"")*"/g;
const AFTER_STRING_LITERAL = /\s*(?:,|\)|$|AND\b|OR\b)/iy;

function isStringLiteralEnd(sql: string, end: number): boolean {
  AFTER_STRING_LITERAL.lastIndex = end;
  return AFTER_STRING_LITERAL.test(sql);
}

/**
 * A SQL statement (its first MAX_TEMPLATE_INPUT characters) with its literals stripped: strings,
 * numbers and IN-lists become `?`, so the same query shape with other values is the same text.
 */
export function stripSqlLiterals(sql: string): string {
  return cutToBudget(sql)
    .replace(/'(?:[^']|'')*'/g, '?')
    .replace(DOUBLE_QUOTED, (token, at: number, s: string) => (isStringLiteralEnd(s, at + token.length) ? '?' : token))
    .replace(/\b0x[0-9a-f]+\b/gi, '?')
    .replace(/(?<![\w$])[-+]?\d+(?:\.\d+)?\b/g, '?')
    .replace(/\(\s*\?(?:\s*,\s*\?)*\s*\)/g, '(?)')
    .replace(/\s+/g, ' ')
    .trim();
}

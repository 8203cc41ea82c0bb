// What one string put in DuckDB may hold. DuckDB 1.5.5 keeps the blocks of strings over ~16 KB in
// its buffer pool: past its memory limit checkpoints fail and the database is invalidated
// (docs/known-gaps.md; a bare @duckdb/node-api probe shows it too), while strings of 15 KB go hundreds of MB
// past the limit. So a column value longer than MAX_STORED_CHARS is stored cut: in a JSON or
// attr-text column the longest strings inside it are shortened until the text fits (the structure
// stays readable); a plain string is cut. Cut strings end in '…' and are
// counted. Only the embedded store does this: exports and live tails get every value whole.

/** The longest text one column value may be (characters). */
export const MAX_STORED_CHARS = 16_000;
const ELLIPSIS = '…';

let cut = 0;
/** Strings cut to fit MAX_STORED_CHARS since the process started (for /metrics). */
export const storedStringsCut = (): number => cut;

/**
 * `text` itself, or cut to MAX_STORED_CHARS. `counted`: whether a cut counts in storedStringsCut
 * (false for a reader that recomputes what a writer stored, such as search's link to a log row).
 */
export function storedString(text: string, counted?: boolean): string;
export function storedString(text: string | null, counted?: boolean): string | null;
export function storedString(text: string | null, counted = true): string | null {
  if (text === null || text.length <= MAX_STORED_CHARS) return text;
  if (counted) cut++;
  return text.slice(0, MAX_STORED_CHARS - ELLIPSIS.length) + ELLIPSIS;
}

/**
 * `encode(value)` when it fits MAX_STORED_CHARS; else `encode` of a copy of `value` whose longest
 * strings (values, keys, names: every string leaf) are cut to one length, chosen so that the text
 * fits. Texts whose structure alone is over the limit (thousands of attributes) stay over it.
 */
export function storedText<T>(value: T, encode: (v: T) => string): string;
export function storedText<T>(value: T, encode: (v: T) => string | null): string | null;
export function storedText<T>(value: T, encode: (v: T) => string | null): string | null {
  const text = encode(value);
  if (text === null || text.length <= MAX_STORED_CHARS) return text;
  const lengths: number[] = [];
  collect(value, lengths);
  const total = lengths.reduce((a, b) => a + b, 0);
  // Escapes make the text longer than its strings; aim below the limit by the excess as it is.
  const budget = Math.max(MAX_STORED_CHARS / 4, MAX_STORED_CHARS - (text.length - total) - 64);
  const limit = capFor(lengths, budget);
  return encode(cutStrings(value, limit) as T);
}

function collect(v: unknown, into: number[]): void {
  if (typeof v === 'string') into.push(v.length);
  else if (Array.isArray(v)) for (const x of v) collect(x, into);
  else if (isRecord(v)) for (const x of Object.values(v)) collect(x, into);
}

/** An object whose values are walked for strings (bytes are one value, not a structure). */
const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !(v instanceof Uint8Array);

/** The largest length c such that the strings cut to c sum to at most `budget` (water-filling). */
function capFor(lengths: number[], budget: number): number {
  const sorted = [...lengths].sort((a, b) => a - b);
  let used = 0;
  for (let i = 0; i < sorted.length; i++) {
    const rest = sorted.length - i;
    // Every string from i on is cut to c: c · rest + used ≤ budget.
    const c = Math.floor((budget - used) / rest);
    if (c < sorted[i]!) return Math.max(ELLIPSIS.length + 1, c);
    used += sorted[i]!;
  }
  return Infinity;
}

function cutStrings(v: unknown, limit: number, key?: string): unknown {
  if (typeof v === 'string') {
    if (v.length <= limit) return v;
    cut++;
    // base64: whole 4-character groups, no mark (it must still decode).
    if (key === 'bytesValue') return v.slice(0, limit - (limit % 4));
    return v.slice(0, limit - ELLIPSIS.length) + ELLIPSIS;
  }
  if (Array.isArray(v)) return v.map((x) => cutStrings(x, limit));
  if (isRecord(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = cutStrings(x, limit, k);
    return out;
  }
  return v;
}

// trace_key: the first four bytes of a trace ID as a 32-bit integer, stored beside the hex ID.
// Trace-by-id scans this fixed-width column (4 bytes a row, a few ms per million rows) and compares
// the full ID only on the rare matches. It replaces an ART index on trace_id, which DuckDB keeps in
// memory in full and which grew without bound under ingest.

/** Any string gives a key (non-hex gives 0), so a malformed ID in a query simply finds nothing. */
export function traceKey(traceIdHex: string): number {
  return parseInt(traceIdHex.slice(0, 8), 16) | 0;
}

/** `(trace_key IN (…) AND trace_id IN (…))` for lowercase hex IDs, every value a parameter. */
export function traceIdsSql(ids: readonly string[], add: (v: number | string) => string): string {
  const keys = [...new Set(ids.map(traceKey))].map(add).join(', ');
  return `(trace_key IN (${keys}) AND trace_id IN (${ids.map(add).join(', ')}))`;
}

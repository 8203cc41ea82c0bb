// The one thing of a failed connection a client may be told: its errno-style code, never the
// address that comes with it (`connect ECONNREFUSED 10.0.3.7:16686`). Shared by the read adapters.

const CODE_IN_TEXT = /\b(E[A-Z]{3,}|UND_ERR_[A-Z_]+)\b/;

/**
 * The errno-style code (ECONNREFUSED, ENOTFOUND, UND_ERR_SOCKET…) of a failed request: an error's
 * `code`, else one named in its message (or in the error text a client library rejects with), along
 * its causes (an AggregateError's first, as happy eyeballs throws).
 */
export function networkCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    if (typeof e === 'string') return CODE_IN_TEXT.exec(e)?.[1];
    if (typeof e !== 'object') return undefined;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z][A-Z_]+$/.test(code)) return code;
    const found = CODE_IN_TEXT.exec(e instanceof Error ? e.message : '');
    if (found) return found[1];
    const errors = (e as { errors?: unknown }).errors;
    e = Array.isArray(errors) && errors.length > 0 ? errors[0] : (e as { cause?: unknown }).cause;
  }
  return undefined;
}

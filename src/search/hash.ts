// The content hash that keys texts and vectors: the first 8 bytes of SHA-256, as a signed 64-bit
// integer (DuckDB BIGINT; usearch keys take it as unsigned). At a million distinct texts the chance
// of any collision is about 3·10⁻⁸.
import { createHash } from 'node:crypto';

export function contentHash(text: string): bigint {
  return createHash('sha256').update(text, 'utf8').digest().readBigInt64BE(0);
}

// Fills an appender's data chunk straight from row objects, column by column. node-api's setColumns
// takes an array of values per column and, per value, sets a validity bit with BigInt arithmetic
// (two BigInts allocated per value once a column has a NULL) and makes one native call per string.
// Here fixed-width values go into a typed array copied into the vector at once, validity bits are
// plain byte operations, and a string equal to the previous row's (or, in
// a `repeats` column, to any earlier row's in the chunk) copies that row's 16-byte duckdb_string_t
// instead of a native call: tenant, service, span name and parent ID repeat row after row.
//
// The string_t copy is sound: duckdb_string_t is the C API's public layout, a long string's pointer
// targets the vector's own string heap (alive as long as the chunk), and the appender copies the
// chunk's strings when it appends it.
import duckdb from '@duckdb/node-bindings';
import { DuckDBDataChunk, DuckDBTypeId, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';

export interface ChunkColumn<P> {
  name: string;
  /** Few distinct values: look each string up among all the chunk's earlier ones, not only the previous row's. */
  repeats?: boolean;
  get?(p: P): DuckDBValue;
}

const STRING_T = 16;

function wrongType<P>(col: ChunkColumn<P>, v: unknown, expected: string): never {
  throw new TypeError(`column ${col.name}: expected ${expected}, got ${typeof v}`);
}

/** One data chunk of `rows` (at most 2,048: DuckDB's vector size), for an appender. */
export function fillChunk<P>(columns: readonly ChunkColumn<P>[], types: readonly DuckDBType[], rows: readonly P[]): DuckDBDataChunk {
  return chunkFiller(columns, types)(rows);
}

/**
 * One data chunk refilled for each call: for a caller that appends each chunk before filling the
 * next (the appender copies a chunk's values, strings included, when it appends it). A new chunk per
 * 512-row step allocated 25 full-size vectors and 25 logical types, each freed only by a finalizer
 * after V8's next GC.
 */
export function chunkFiller<P>(columns: readonly ChunkColumn<P>[], types: readonly DuckDBType[]): (rows: readonly P[]) => DuckDBDataChunk {
  const fill = columnwiseChunkFiller(columns, types);
  return (rows) => {
    const filling = fill(rows);
    while (!filling.fillColumn());
    return filling.chunk();
  };
}

/** A chunk being filled one column per call, so that its filler can yield to the event loop between columns. */
export interface ColumnwiseFill {
  /** Fills the next column; true once every column is filled. */
  fillColumn(): boolean;
  /** The filled chunk (after fillColumn returned true). */
  chunk(): DuckDBDataChunk;
}

/** chunkFiller's reused chunk, filled a column at a time: the store writer's steps end on a time budget, not a row count. */
export function columnwiseChunkFiller<P>(columns: readonly ChunkColumn<P>[], types: readonly DuckDBType[]): (rows: readonly P[]) => ColumnwiseFill {
  let raw: duckdb.DataChunk | null = null;
  return (rows) => {
    if (raw) duckdb.data_chunk_reset(raw);
    else raw = duckdb.create_data_chunk(types.map((t) => t.toLogicalType().logical_type));
    const chunk = raw;
    duckdb.data_chunk_set_size(chunk, rows.length);
    let next = 0;
    return {
      fillColumn() {
        if (next < columns.length) fillColumnInto(chunk, columns, types, rows, next++);
        return next === columns.length;
      },
      chunk: () => new DuckDBDataChunk(chunk),
    };
  };
}

function fillColumnInto<P>(raw: duckdb.DataChunk, columns: readonly ChunkColumn<P>[], types: readonly DuckDBType[], rows: readonly P[], c: number): void {
  const col = columns[c]!;
  const n = rows.length;
  const words = Math.ceil(n / 64);
  const get = col.get!;
  const vector = duckdb.data_chunk_get_vector(raw, c);
  // The validity mask, built here and copied in only if some value is NULL (bit set = valid).
  let validity: Uint8Array | null = null;
  const setNull = (i: number) => {
    validity ??= new Uint8Array(words * 8).fill(0xff);
    validity[i >> 3]! &= ~(1 << (i & 7));
  };
  const id = types[c]!.typeId;
  switch (id) {
    case DuckDBTypeId.VARCHAR: {
      // Rows whose string equals an earlier row's, and that row; filled after the native assigns.
      const copies: number[] = [];
      const slots = col.repeats ? new Map<string, number>() : null;
      let last: string | null = null;
      let lastRow = -1;
      for (let i = 0; i < n; i++) {
        const v = get(rows[i]!);
        if (v === null || v === undefined) {
          setNull(i);
          continue;
        }
        if (typeof v !== 'string') wrongType(col, v, 'a string');
        const same = v === last ? lastRow : slots ? (slots.get(v) ?? -1) : -1;
        if (same >= 0) copies.push(i, same);
        else {
          duckdb.vector_assign_string_element(vector, i, v);
          slots?.set(v, i);
        }
        last = v;
        lastRow = i;
      }
      if (copies.length) {
        // vector_get_data gives a copy of the vector's data; it is written back whole.
        const data = duckdb.vector_get_data(vector, n * STRING_T);
        for (let k = 0; k < copies.length; k += 2) {
          const from = copies[k + 1]! * STRING_T;
          data.copyWithin(copies[k]! * STRING_T, from, from + STRING_T);
        }
        duckdb.copy_data_to_vector(vector, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
      }
      break;
    }
    case DuckDBTypeId.BIGINT: {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) {
        const v = get(rows[i]!);
        if (v === null || v === undefined) setNull(i);
        else if (typeof v === 'bigint') out[i] = v;
        else wrongType(col, v, 'a bigint');
      }
      duckdb.copy_data_to_vector(vector, 0, out.buffer, 0, out.byteLength);
      break;
    }
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.DOUBLE: {
      const out = id === DuckDBTypeId.DOUBLE ? new Float64Array(n) : id === DuckDBTypeId.INTEGER ? new Int32Array(n) : new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        const v = get(rows[i]!);
        if (v === null || v === undefined) setNull(i);
        else if (typeof v === 'number') out[i] = v;
        else wrongType(col, v, 'a number');
      }
      duckdb.copy_data_to_vector(vector, 0, out.buffer, 0, out.byteLength);
      break;
    }
    case DuckDBTypeId.BOOLEAN: {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const v = get(rows[i]!);
        if (v === null || v === undefined) setNull(i);
        else if (typeof v === 'boolean') out[i] = v ? 1 : 0;
        else wrongType(col, v, 'a boolean');
      }
      duckdb.copy_data_to_vector(vector, 0, out.buffer, 0, out.byteLength);
      break;
    }
    default:
      throw new Error(`column ${col.name}: type ${types[c]!.toString()} cannot be filled directly`);
  }
  if (validity) {
    const mask: Uint8Array = validity;
    duckdb.vector_ensure_validity_writable(vector);
    duckdb.copy_data_to_vector_validity(vector, 0, mask.buffer as ArrayBuffer, 0, mask.byteLength);
  }
}

// Table definitions as data, and the SQL built from them: the table, its temp staging table (what
// the appender fills), and the statement that moves staged rows into the table.
//
// Why staging: the Node appender writes scalars at >100k rows/s but MAP and LIST values at ~10k
// rows/s. So those columns are staged as JSON text and cast by DuckDB on the way in. A table with
// no such column (spans, logs) skips staging: the appender writes into it directly.
import {
  BIGINT,
  BOOLEAN,
  DOUBLE,
  INTEGER,
  UINTEGER,
  VARCHAR,
  type DuckDBConnection,
  type DuckDBType,
  type DuckDBDataChunk,
} from '@duckdb/node-api';
import { fillChunk, type ChunkColumn } from './chunk.ts';

export interface Column<P> extends ChunkColumn<P> {
  name: string;
  /** Type in the table. */
  type: string;
  /** Staged as JSON text and cast to `type` on load. */
  json?: boolean;
  /** Computed on load from the staged columns instead of being staged. */
  derive?: string;
}

export interface TableSpec<P> {
  name: string;
  columns: readonly Column<P>[];
  /** Single-column ART indexes (DuckDB's index scans use single-column indexes). */
  indexes: readonly string[];
}

const SCALAR_TYPES: Record<string, DuckDBType> = { VARCHAR, BIGINT, INTEGER, UINTEGER, DOUBLE, BOOLEAN };

/** True when rows go through the staging table (some column is JSON-cast or derived on load). */
export function isStaged<P>(spec: TableSpec<P>): boolean {
  return spec.columns.some((c) => c.json || c.derive);
}

export function stagedColumns<P>(spec: TableSpec<P>): Column<P>[] {
  return spec.columns.filter((c) => !c.derive);
}

export function stagedTypes<P>(spec: TableSpec<P>): DuckDBType[] {
  return stagedColumns(spec).map((c) => {
    if (c.json) return VARCHAR;
    const t = SCALAR_TYPES[c.type.replace(' NOT NULL', '')];
    if (!t) throw new Error(`column ${spec.name}.${c.name}: type ${c.type} cannot be staged as a scalar`);
    return t;
  });
}

export function stagingTable(spec: TableSpec<unknown>): string {
  return `${spec.name}_in`;
}

export function createTableSql(spec: TableSpec<unknown>): string[] {
  const cols = spec.columns.map((c) => `  ${c.name} ${c.type}`).join(',\n');
  return [
    `CREATE TABLE IF NOT EXISTS ${spec.name} (\n${cols}\n)`,
    ...spec.indexes.map((col) => `CREATE INDEX IF NOT EXISTS ${spec.name}_${col}_idx ON ${spec.name} (${col})`),
  ];
}

export function createStagingSql(spec: TableSpec<unknown>): string {
  const cols = stagedColumns(spec).map((c) => `${c.name} ${c.json ? 'VARCHAR' : c.type.replace(' NOT NULL', '')}`);
  return `CREATE OR REPLACE TEMP TABLE ${stagingTable(spec)} (${cols.join(', ')})`;
}

/** Moves the staged rows into the table and empties the staging table. */
export function loadSql(spec: TableSpec<unknown>): string {
  const names = spec.columns.map((c) => c.name).join(', ');
  const exprs = spec.columns.map((c) => {
    if (c.derive) return c.derive;
    if (c.json) return `CAST(${c.name}::JSON AS ${c.type})`;
    return c.name;
  });
  const staging = stagingTable(spec);
  return `INSERT INTO ${spec.name} (${names}) SELECT ${exprs.join(', ')} FROM ${staging}; DELETE FROM ${staging}`;
}

export async function createTables(conn: DuckDBConnection, specs: readonly TableSpec<unknown>[]): Promise<void> {
  for (const spec of specs) for (const sql of createTableSql(spec)) await conn.run(sql);
}

/** DuckDB's vector size: the most rows one data chunk holds. */
export const CHUNK_ROWS = 2048;

/** `rows` as data chunks of up to CHUNK_ROWS rows each (chunk.ts fills each). */
export function buildChunks<P>(columns: readonly Column<P>[], types: DuckDBType[], rows: readonly P[]): DuckDBDataChunk[] {
  const chunks: DuckDBDataChunk[] = [];
  for (let off = 0; off < rows.length; off += CHUNK_ROWS) chunks.push(fillChunk(columns, types, rows.slice(off, off + CHUNK_ROWS)));
  return chunks;
}

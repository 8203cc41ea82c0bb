// scratch: per-lookup CPU of trace-by-id SQL variants, in process
import { DuckDBInstance, VARCHAR, INTEGER, BIGINT } from '@duckdb/node-api';
import { traceKey } from '../src/stores/duckdb/trace-key.ts';

const file = process.argv[2]!;
const rounds = Number(process.argv[3] ?? 3);
const n = Number(process.argv[4] ?? 300);
const extra = JSON.parse(process.env.CFG ?? '{}') as Record<string, string>;
const inst = await DuckDBInstance.create(file, { memory_limit: '96MB', access_mode: 'READ_ONLY', ...extra });
const conn = await inst.connect();
const ids = (await (await conn.runAndReadAll('SELECT trace_id FROM trace_ranges USING SAMPLE 5000 ROWS')).getRowObjectsJS()).map((r) => r.trace_id as string);
const ALL = 'tenant, trace_id, span_id, parent_span_id, trace_state, flags, name, kind, status_code, status_message, start_ns, end_ns, attrs_flat, attributes, dropped_attributes, events, dropped_events, links, dropped_links, resource_id, scope_id';
const LEAN = 'tenant, trace_id, span_id, parent_span_id, name, kind, status_code, start_ns, end_ns, attrs_flat, attributes';
const LEAN_NARROW = LEAN + ', trace_state, flags, status_message, dropped_attributes, dropped_events, dropped_links';
const NO_EL = LEAN_NARROW + ', resource_id, scope_id';
const LEAN_NO_ATTR = 'tenant, trace_id, span_id, parent_span_id, name, kind, status_code, start_ns, end_ns';
const q = (cols: string) => `WITH hits AS (SELECT ${cols} FROM spans, (SELECT min(min_start_ns) AS lo, max(max_start_ns) AS hi FROM trace_ranges WHERE (trace_key IN ($2) AND trace_id IN ($3)) AND tenant = $1) AS r
      WHERE start_ns BETWEEN r.lo AND r.hi AND (trace_key IN ($2) AND trace_id IN ($3)))
    SELECT * FROM hits WHERE tenant = $1`;
const variants: Record<string, string> = {
  all: q(ALL),
  lean: q(LEAN),
  leanNarrow: q(LEAN_NARROW),
  noEventsLinks: q(NO_EL),
  leanNoAttr: q(LEAN_NO_ATTR),
  ranges: `SELECT min(min_start_ns) AS lo, max(max_start_ns) AS hi FROM trace_ranges WHERE (trace_key IN ($2) AND trace_id IN ($3)) AND tenant = $1`,
  one: 'SELECT 1 WHERE $1 IS NOT NULL AND $2 IS NOT NULL AND $3 IS NOT NULL',
};
const only = process.env.ONLY?.split(',');
const names = Object.keys(variants).filter((k) => !only || only.includes(k));
const stmts = Object.fromEntries(await Promise.all(names.map(async (k) => [k, await conn.prepare(variants[k]!)] as const)));
const tenant = ((await (await conn.runAndReadAll('SELECT tenant FROM spans LIMIT 1')).getRowObjectsJS())[0]!.tenant) as string;
for (let round = 0; round < rounds; round++) {
  const out: string[] = [];
  for (const k of names) {
    const st = stmts[k]!;
    let conv = 0;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const id = ids[Math.floor(Math.random() * ids.length)]!;
      st.bind([tenant, traceKey(id), id], [VARCHAR, INTEGER, VARCHAR]);
      const reader = await st.runAndReadAll();
      const a = performance.now();
      reader.getRowObjectsJS();
      conv += performance.now() - a;
    }
    const c = process.cpuUsage(c0);
    out.push(`${k}: cpu ${((c.user + c.system) / 1000 / n).toFixed(2)} wall ${((performance.now() - t0) / n).toFixed(2)} conv ${(conv / n).toFixed(3)}`);
  }
  console.log(`round ${round}: ${out.join(' | ')}`);
}
void BIGINT;

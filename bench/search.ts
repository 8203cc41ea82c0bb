// npm run bench:search — top-10 nearest neighbours over 1,000,000 random-but-clustered unit vectors:
// the usearch HNSW index the gateway keeps beside DuckDB (one search thread), against an exact
// brute-force scan in the same run (the baseline), with recall@10 of the index against the scan.
// Runs for 384 dimensions (all-MiniLM-L6-v2) and 128 (the test model).
// Options: --vectors N (1000000), --queries N (200), --exact N (queries timed for the scan, 30),
//          --dims 384,128, --clusters N (2000).
// --pipeline N: instead, index N spans made from 1,000 templates with the offline test model through
// the real indexer and DuckDB vector store, and time `search` end to end (exact and ANN paths).
import { DEFAULT_ANN, createAnnIndex } from '../src/search/ann.ts';
import { arg, fmt, machine, rssMiB, summarize } from './lib.ts';
import { seededRandom as rng } from '../test/helpers/seeded-random.ts';

const N = arg('vectors', 1_000_000);
const QUERIES = arg('queries', 200);
const EXACT = arg('exact', 30);
const CLUSTERS = arg('clusters', 2000);
const dimsArg = process.argv.indexOf('--dims');
const DIMS = dimsArg === -1 ? [384, 128] : process.argv[dimsArg + 1]!.split(',').map(Number);
const K = 10;

function normalize(v: Float32Array, off: number, d: number): void {
  let s = 0;
  for (let j = 0; j < d; j++) s += v[off + j]! * v[off + j]!;
  const inv = 1 / Math.sqrt(s || 1);
  for (let j = 0; j < d; j++) v[off + j]! *= inv;
}

/** Vectors around `clusters` random centres (like embeddings of texts on a few thousand topics). */
function clustered(n: number, d: number, clusters: number, seed: number): Float32Array {
  const r = rng(seed);
  const centres = new Float32Array(clusters * d);
  for (let i = 0; i < centres.length; i++) centres[i] = r() - 0.5;
  for (let c = 0; c < clusters; c++) normalize(centres, c * d, d);
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(r() * clusters);
    const spread = 0.04 + 0.06 * r();
    for (let j = 0; j < d; j++) out[i * d + j] = centres[c * d + j]! + (r() - 0.5) * spread * 2;
    normalize(out, i * d, d);
  }
  return out;
}

/** Exact top-k by dot product (vectors are unit length, so it is the cosine). */
function exactTopK(data: Float32Array, n: number, d: number, q: Float32Array, k: number): number[] {
  const best: { i: number; s: number }[] = [];
  let floor = -Infinity;
  for (let i = 0; i < n; i++) {
    let s = 0;
    const off = i * d;
    for (let j = 0; j < d; j++) s += data[off + j]! * q[j]!;
    if (best.length < k || s > floor) {
      best.push({ i, s });
      best.sort((a, b) => b.s - a.s);
      if (best.length > k) best.pop();
      floor = best[best.length - 1]!.s;
    }
  }
  return best.map((b) => b.i);
}

const pipelineArg = process.argv.indexOf('--pipeline');
if (pipelineArg !== -1) {
  await benchPipeline(Number(process.argv[pipelineArg + 1] ?? 100_000));
  process.exit(0);
}

console.log(`bench:search — ${machine()}`);
console.log(`${fmt(N, 0)} vectors, ${CLUSTERS} clusters, ${QUERIES} ANN queries, ${EXACT} exact queries, top-${K}`);
console.log(`HNSW: M=${DEFAULT_ANN.connectivity} efConstruction=${DEFAULT_ANN.expansionAdd} ef=${DEFAULT_ANN.expansionSearch} ${DEFAULT_ANN.quantization}; searches on one thread`);

for (const d of DIMS) {
  const data = clustered(N, d, CLUSTERS, 42 + d);
  const queries = clustered(QUERIES, d, CLUSTERS, 42 + d); // same centres (same seed), fresh noise: like real queries near real texts
  const rssBefore = rssMiB(process.pid).rss;
  const index = createAnnIndex({ dimensions: d, ...DEFAULT_ANN });
  const t0 = performance.now();
  const STEP = 100_000;
  for (let off = 0; off < N; off += STEP) {
    const n = Math.min(STEP, N - off);
    const hashes = Array.from({ length: n }, (_, i) => BigInt(off + i));
    index.add(hashes, data.subarray(off * d, (off + n) * d));
  }
  const buildS = (performance.now() - t0) / 1000;
  const rssAfter = rssMiB(process.pid).rss;

  const annMs: number[] = [];
  const annResults: bigint[][] = [];
  for (let q = 0; q < QUERIES; q++) {
    const qv = queries.subarray(q * d, (q + 1) * d);
    const t = performance.now();
    const hits = index.search(qv, K);
    annMs.push(performance.now() - t);
    annResults.push(hits.map((h) => h.hash));
  }
  const exactMs: number[] = [];
  let found = 0;
  for (let q = 0; q < EXACT; q++) {
    const qv = queries.subarray(q * d, (q + 1) * d);
    const t = performance.now();
    const truth = exactTopK(data, N, d, qv, K);
    exactMs.push(performance.now() - t);
    const got = new Set(annResults[q]!.map(Number));
    found += truth.filter((i) => got.has(i)).length;
  }
  const ann = summarize(annMs);
  const exact = summarize(exactMs);
  console.log(`\n${d} dimensions`);
  console.log(`  index build      ${fmt(buildS)} s (${fmt(N / buildS, 0)} vectors/s, all cores), ~${fmt(index.memoryBytes() / 2 ** 20, 0)} MiB index estimate, RSS +${fmt(rssAfter - rssBefore, 0)} MiB`);
  console.log(`  raw vectors      ${fmt((N * d * 4) / 2 ** 20, 0)} MiB as FLOAT[${d}]`);
  console.log(`  ANN top-${K}      p50 ${fmt(ann.p50, 3)} ms  p99 ${fmt(ann.p99, 3)} ms  (${ann.n} queries, 1 thread)`);
  console.log(`  exact scan       p50 ${fmt(exact.p50, 1)} ms  p99 ${fmt(exact.p99, 1)} ms  (${exact.n} queries, 1 thread, JS Float32 dot products)`);
  console.log(`  speed-up         ${fmt(exact.p50 / ann.p50, 0)}× at p50`);
  console.log(`  recall@${K}        ${fmt(found / (EXACT * K), 3)} (ANN vs exact, ${EXACT} queries)`);
  console.log(`  target           top-${K} over ${fmt(N, 0)} ≤ 50 ms p50: ${ann.p50 <= 50 ? 'met' : 'NOT met'}`);
}

async function benchPipeline(n: number): Promise<void> {
  const { openDuckDbStore } = await import('../src/stores/duckdb/index.ts');
  const { openSemanticSearch } = await import('../src/search/setup.ts');
  const { defaultConfig } = await import('../src/config/defaults.ts');
  const { silentLogger } = await import('../src/logger.ts');
  const { TEST_MODEL } = await import('../test/fixtures/search/test-model.ts');
  const { span, resource, attrs, traceId, spanId, T0, SEC } = await import('../test/helpers/telemetry-builders.ts');
  console.log(`bench:search --pipeline — ${machine()}`);
  const store = await openDuckDbStore({ path: ':memory:', logger: silentLogger() });
  const search = await openSemanticSearch({ ...defaultConfig().search, ...TEST_MODEL }, store.db, silentLogger());
  const r = rng(1);
  const VERBS = ['timeout', 'failed', 'slow', 'retry', 'declined', 'denied', 'crashed', 'degraded', 'completed', 'queued'];
  const NOUNS = ['orders', 'payments', 'login', 'cart', 'inventory', 'shipping', 'search', 'profile', 'reports', 'emails'];
  const SERVICES = ['checkout', 'auth', 'orders-db', 'payment', 'frontend', 'search', 'mailer', 'inventory', 'reports', 'gateway'];
  const templates = Array.from({ length: 1000 }, (_, i) => `${NOUNS[i % 10]} ${VERBS[Math.floor(i / 10) % 10]} step ${String.fromCharCode(97 + Math.floor(i / 100))}`);
  await search.indexer.ready();
  const t0 = performance.now();
  const BATCH = 10_000;
  for (let off = 0; off < n; off += BATCH) {
    const items = Array.from({ length: Math.min(BATCH, n - off) }, (_, j) => {
      const i = off + j;
      const name = Math.floor(r() * templates.length);
      return span({
        tenant: 'bench',
        traceId: traceId(i + 1),
        spanId: spanId(i + 1),
        name: templates[name]!,
        resource: resource(SERVICES[name % SERVICES.length]!),
        startTimeUnixNano: T0 + BigInt(i) * SEC,
        attributes: attrs({ 'http.route': '/api' }),
      });
    });
    while (search.indexer.enqueue({ signal: 'traces', items }) === 0) await search.indexer.idle();
  }
  await search.indexer.idle();
  const indexS = (performance.now() - t0) / 1000;
  const st = search.indexer.status();
  console.log(`indexed ${fmt(st.indexed, 0)} spans from ${templates.length} templates in ${fmt(indexS)} s (${fmt(st.indexed / indexS, 0)} spans/s), ${st.embedded} texts embedded, ${st.skipped} skipped`);
  const queries = ['orders timeout', 'payment declined', 'login denied', 'slow search', 'inventory crashed', 'emails queued', 'cart retry', 'shipping failed'];
  const cases: [string, boolean, { service?: string[] }][] = [
    ['exact, all', true, {}],
    ['ANN, all', false, {}],
    ['exact, one service', true, { service: ['auth'] }],
  ];
  for (const [label, exact, filter] of cases) {
    const ms: number[] = [];
    for (let i = 0; i < 40; i++) {
      const t = performance.now();
      await search.service.search('bench', { text: queries[i % queries.length]!, signals: ['SPAN'], filter, limit: 10, exact });
      ms.push(performance.now() - t);
    }
    const s = summarize(ms);
    console.log(`search ${label.padEnd(20)} p50 ${fmt(s.p50)} ms  p99 ${fmt(s.p99)} ms (40 queries, embedding the query included)`);
  }
  await search.close();
  await store.close();
}

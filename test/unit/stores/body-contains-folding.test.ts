// bodyContains is case-insensitive the same way in DuckDB's SQL (lower()) and in the in-memory
// matcher that live tails and the Jaeger/ES read paths use, so a tail and a search of one filter
// find the same logs. Found by log QA: JS toLowerCase lowers a word-final Σ to ς and İ to i̇.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { silentLogger } from '../../../src/logger.ts';
import { openDuckDbStore, type DuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { compileLogFilter } from '../../../src/stores/filter-match.ts';
import { log, T0 } from '../../helpers/telemetry-builders.ts';

const bodies = ['ΣΊΣΥΦΟΣ greek', 'σίσυφος lower', 'İstanbul dotted', 'istanbul plain', 'Straße ẞ', 'plain ASCII Body'];
const logs = bodies.map((b, i) => log({ timeUnixNano: T0 + BigInt(i), body: { stringValue: b } }));
let store: DuckDbStore;
before(async () => {
  store = await openDuckDbStore({ path: ':memory:', logger: silentLogger() });
  await store.writer.writeLogs(logs);
});
after(() => store.close());

test('a search and the in-memory matcher find the same bodies for every needle', async () => {
  const range = { from: T0, to: T0 + 100n };
  for (const needle of ['σίσυφος', 'ΣΊΣΥΦΟΣ', 'istanbul', 'İstanbul', 'STRASSE', 'straße', 'ẞ', 'ascii body', 'ς']) {
    const filter = { bodyContains: needle, timeRange: range };
    const searched = (await store.logs.searchLogs('default', filter, { first: 100, order: 'OLDEST_FIRST' })).items.map((i) => (i.node.body as { stringValue: string }).stringValue);
    const matched = logs.filter(compileLogFilter(filter)).map((l) => (l.body as { stringValue: string }).stringValue);
    assert.deepEqual(matched, searched, needle);
  }
  // What both answer: letters lowered one by one (Unicode's simple mapping), no other folding.
  const matching = (needle: string) => bodies.filter((_, i) => compileLogFilter({ bodyContains: needle })(logs[i]!));
  assert.deepEqual(matching('ΣΊΣΥΦΟΣ'), ['ΣΊΣΥΦΟΣ greek']);
  assert.deepEqual(matching('İstanbul'), ['İstanbul dotted', 'istanbul plain']);
});

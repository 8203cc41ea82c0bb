// One record's match is bounded: the regexes of one filter together (MAX_FILTER_STATES), a tail's
// match stops part way through a record once its tenant's budget is spent (matchingUntil), and a
// log's body is lowered once per record however many bodyContains terms ask (bigquery QA, D3).
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { compileLogFilter, compileSpanFilter, MAX_FILTER_STATES } from '../../../src/stores/filter-match.ts';
import { StoreError, type TelemetryFilter } from '../../../src/stores/types.ts';
import { createTailBus, TailCostError } from '../../../src/tail/bus.ts';
import type { LogRecord, SpanRecord } from '../../../src/model/telemetry.ts';
import { attrs, log, span } from '../../helpers/telemetry-builders.ts';

/** `.*[ac]{0,55}.*X`: 5 + 110 + 5 + 1 = 121 states, within one pattern's bound of 128. */
const atBound = (x: string) => `.*[ac]{0,55}.*${x}`;
const orOf = (n: number): TelemetryFilter => ({
  or: Array.from({ length: n }, (_, i) => ({ attributes: [{ key: 'payload', op: 'regex' as const, value: atBound(String.fromCharCode(98 + i)) }] })),
});

describe('the work of one filter on one record is bounded', () => {
  it('refuses a filter whose regexes together have more states than MAX_FILTER_STATES, at any nesting level', () => {
    assert.equal(MAX_FILTER_STATES, 256);
    assert.doesNotThrow(() => compileSpanFilter(orOf(2)));
    for (const filter of [orOf(3), orOf(100), { and: [orOf(2), { not: orOf(1) }] }]) {
      assert.throws(
        () => compileSpanFilter(filter),
        (err: unknown) => err instanceof StoreError && err.code === 'BAD_QUERY' && err.message.includes(`at most ${MAX_FILTER_STATES}`),
      );
      assert.throws(() => compileLogFilter(filter), StoreError);
    }
    // An alert rule's filter runs in the store's SQL: checked here, but not held to the matcher's bound
    // (a stored rule with three such regexes must still load).
    assert.doesNotThrow(() => compileLogFilter(orOf(3), undefined, { checkOnly: true }));
    assert.doesNotThrow(() => compileSpanFilter(orOf(100), undefined, { checkOnly: true }));
  });

  describe('a tail stops matching part way through a record once its budget is spent', () => {
    const realNow = performance.now.bind(performance);
    afterEach(() => {
      performance.now = realNow;
    });

    it('ends the tail after the regexes of a record that fit in the budget, not after all of them', async () => {
      // A clock that moves 300 ms at each reading: the bus reads it when a batch arrives and each
      // regex condition once before it runs, so the budget (1,000 ms) is spent after three.
      let clock = 0;
      performance.now = () => (clock += 300);
      const bus = createTailBus({ matchBudgetMs: 1000 });
      const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
      // Ten conditions that all match, so none is skipped: a whole match would read all ten.
      const matches = compileSpanFilter({ attributes: keys.map((key) => ({ key, op: 'regex' as const, value: 'a+' })) });
      const base = span({ attributes: attrs(Object.fromEntries(keys.map((k) => [k, 'aaa']))) });
      let reads = 0;
      const record = Object.defineProperty({ ...base }, 'attributes', {
        get: () => {
          reads++;
          return base.attributes;
        },
      }) as SpanRecord;
      const sub = bus.subscribe('t', 'spans', matches);
      bus.publish('t', 'spans', [record]);
      await assert.rejects(sub.next(), TailCostError);
      assert.equal(reads, 3, 'the conditions read before the budget ran out');
      sub.close();
    });
  });

  it('lowers a log body once per record for all of a filter’s bodyContains terms', () => {
    const match = compileLogFilter({ or: Array.from({ length: 50 }, (_, i) => ({ bodyContains: `needle-${i}` })) });
    const base = log({ body: { stringValue: 'x'.repeat(1000) } });
    let reads = 0;
    const record = Object.defineProperty({ ...base }, 'body', {
      get: () => {
        reads++;
        return base.body;
      },
    }) as LogRecord;
    assert.equal(match(record), false);
    assert.ok(reads <= 2, `read the body ${reads} times`);
  });
});

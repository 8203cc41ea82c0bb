// What a backend hands the contract suites: its write side and the store interfaces under test.
// Each suite opens one store, writes through StoreWriter only and reads through the interface only.
// Suites use their own fresh tenants, so a backend can share one store across suites.
import assert from 'node:assert/strict';
import { StoreError, type AttributeCatalog, type LogStore, type MetricStore, type Page, type PageRequest, type StoreErrorCode, type StoreWriter, type TraceStore } from '../../src/stores/types.ts';

export interface StoreUnderTest {
  writer: StoreWriter;
  traces: TraceStore;
  logs: LogStore;
  metrics: MetricStore;
  catalog: AttributeCatalog;
  close(): Promise<void>;
}

export type StoreFactory = () => Promise<StoreUnderTest>;

let tenantSeq = 0;
/** A tenant no other test has used in this process. */
export function freshTenant(label: string): string {
  tenantSeq++;
  return `${label}-${process.pid}-${tenantSeq}`;
}

export async function rejectsWith(p: Promise<unknown>, code: StoreErrorCode, messageIncludes?: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof StoreError, `expected a StoreError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (messageIncludes) assert.match(err.message, new RegExp(messageIncludes.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    return true;
  });
}

/**
 * A cursor from a page of one order is a BAD_ARGUMENT with the other order (or none, which means
 * newest first), never a wrong page; with its own order it reads the next `first` items.
 */
export async function assertCursorKeepsItsOrder(read: (page: PageRequest) => Promise<Page<unknown>>, first: number): Promise<void> {
  for (const [issued, other] of [['NEWEST_FIRST', 'OLDEST_FIRST'], ['OLDEST_FIRST', 'NEWEST_FIRST']] as const) {
    const page = await read({ first, order: issued });
    assert.ok(page.hasNextPage && page.endCursor, issued);
    await rejectsWith(read({ first, after: page.endCursor, order: other }), 'BAD_ARGUMENT', `issued for order ${issued}, not ${other}`);
    if (issued === 'OLDEST_FIRST') await rejectsWith(read({ first, after: page.endCursor }), 'BAD_ARGUMENT', 'issued for order OLDEST_FIRST');
    assert.equal((await read({ first, after: page.endCursor, order: issued })).items.length, first);
  }
}

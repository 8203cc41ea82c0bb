// What a backend hands the contract suites: its write side and the store interfaces under test.
// Each suite opens one store, writes through StoreWriter only and reads through the interface only.
// Suites use their own fresh tenants, so a backend can share one store across suites.
import assert from 'node:assert/strict';
import { StoreError, type AttributeCatalog, type LogStore, type MetricStore, type StoreErrorCode, type StoreWriter, type TraceStore } from '../../src/stores/types.ts';

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

// Runs the store contract suites against DuckDB, in memory and backed by a file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/logger.ts';
import { openDuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { catalogContract } from '../../contract/catalog-contract.ts';
import { logStoreContract } from '../../contract/log-store-contract.ts';
import { metricStoreContract } from '../../contract/metric-store-contract.ts';
import type { StoreFactory } from '../../contract/store-under-test.ts';
import { traceStoreContract } from '../../contract/trace-store-contract.ts';

const inMemory: StoreFactory = () => openDuckDbStore({ path: ':memory:', logger: silentLogger(), threads: 2 });

const fileBacked: StoreFactory = async () => {
  const dir = mkdtempSync(join(tmpdir(), 'teleql-duckdb-'));
  const store = await openDuckDbStore({ path: join(dir, 'nested', 'store.duckdb'), logger: silentLogger(), threads: 2 });
  return {
    ...store,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

for (const [name, open] of [['DuckDB in memory', inMemory], ['DuckDB file', fileBacked]] as const) {
  traceStoreContract(name, open);
  logStoreContract(name, open);
  metricStoreContract(name, open);
  catalogContract(name, open);
}

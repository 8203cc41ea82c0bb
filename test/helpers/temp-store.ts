// Store files in temporary directories that are removed when the test file's tests are done.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** A function giving a new `store.duckdb` path in its own temporary directory on each call; all are removed after the file's tests. */
export function tempStorePaths(prefix: string): () => string {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), `teleql-${prefix}-`));
    dirs.push(dir);
    return join(dir, 'store.duckdb');
  };
}

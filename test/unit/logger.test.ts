// The root logger's JSON lines: an error's cause is logged as its own object, so a message that
// already says what caused it is not repeated (pino's default serializer appended every cause's
// message: a full disk's DuckDB error read three times in one line).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createRootLogger } from '../../src/logger.ts';

test('an error with causes is logged with its own message, and each cause as a nested object', () => {
  const lines: string[] = [];
  const logger = createRootLogger('info', new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(chunk.toString()), cb()) }));
  const disk = new Error('Could not write file "t.duckdb.wal": No space left on device');
  const store = new Error(disk.message, { cause: disk });
  const batch = new Error(`${store.message} (still failing after 10 attempts in 24195 ms)`, { cause: store });
  logger.error({ err: batch, items: 14464 }, 'batch export failed; items dropped');
  const line = JSON.parse(lines[0]!) as { err: { message: string; stack: string; cause: { message: string; cause: { message: string } } } };
  assert.equal(line.err.message, 'Could not write file "t.duckdb.wal": No space left on device (still failing after 10 attempts in 24195 ms)');
  assert.equal(line.err.cause.message, store.message);
  assert.equal(line.err.cause.cause.message, disk.message);
  assert.doesNotMatch(line.err.stack, /caused by/);
});

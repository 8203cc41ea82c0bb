// A Redis outage is one warning per connection, not one per reconnect attempt (one a second).
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { Redis } from '../../../src/startup/ioredis.ts';
import { logConnectionErrors } from '../../../src/startup/ioredis.ts';

test('connection errors are a warning once per outage and debug lines until the connection is ready again', () => {
  const lines: [string, string][] = [];
  const log = { warn: (o: object, msg: string) => lines.push(['warn', `${msg} ${JSON.stringify(o)}`]), debug: (o: object, msg: string) => lines.push(['debug', `${msg} ${JSON.stringify(o)}`]) };
  const conn = new EventEmitter();
  logConnectionErrors(conn as unknown as Redis, log, { connection: 'publisher' }, 'redis connection error');
  for (let i = 0; i < 3; i++) conn.emit('error', new Error('connect ECONNREFUSED'));
  conn.emit('ready');
  conn.emit('error', new Error('read ECONNRESET'));
  assert.deepEqual(
    lines.map(([level]) => level),
    ['warn', 'debug', 'debug', 'warn'],
  );
  assert.equal(lines[0]![1], 'redis connection error {"err":"connect ECONNREFUSED","connection":"publisher"}');
});

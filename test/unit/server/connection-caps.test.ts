// What a client address counts under for limits.connections.maxPerAddress, and the caps' metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { pino } from 'pino';
import { addressKey, createConnectionCaps, defaultConnectionLimits } from '../../../src/server/connection-limits.ts';

test('an IPv4 client is its address, also when a dual-stack listener sees it IPv4-mapped', () => {
  assert.equal(addressKey('127.0.0.1', 64), '127.0.0.1');
  assert.equal(addressKey('::ffff:10.1.2.3', 64), '10.1.2.3');
  assert.equal(addressKey('::ffff:10.1.2.3', 128), '10.1.2.3');
});

test('an IPv6 client is its network: every address of one /64 counts as one client', () => {
  const hosts = ['2001:db8:1:2::9', '2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:0db8:0001:0002:ffff:ffff:ffff:ffff'];
  assert.deepEqual(new Set(hosts.map((a) => addressKey(a, 64))), new Set(['2001:db8:1:2::/64']));
  assert.equal(addressKey('2001:db8:1:3::9', 64), '2001:db8:1:3::/64', 'the next network is another client');
  assert.equal(addressKey('::1', 64), '::/64');
  // Other lengths: a shorter prefix groups more, 128 counts each address alone.
  assert.equal(addressKey('2001:db8:1:2ff::9', 56), '2001:db8:1:200::/56');
  assert.equal(addressKey('2001:db8:1:2::9', 127), '2001:db8:1:2::8/127');
  assert.equal(addressKey('2001:db8:1:2::9', 128), '2001:db8:1:2::9');
  assert.equal(addressKey('2001:db8:1:2::9', 1), '::/1');
  assert.equal(addressKey('fd00::2', 1), '8000::/1');
});

test('what is not an IP address is its own key (a Unix socket, none)', () => {
  assert.equal(addressKey('', 64), '');
  assert.equal(addressKey('/run/teleql.sock', 64), '/run/teleql.sock');
});

test("a listener's connection metrics go when it stops", async () => {
  const caps = createConnectionCaps(defaultConnectionLimits(), pino({ level: 'silent' }));
  const server = createServer();
  caps.apply(server, 'otlp/http', 'http503');
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  assert.deepEqual(new Set(caps.metrics().map((m) => m.labels?.listener)), new Set(['otlp/http']));
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.deepEqual(caps.metrics(), []);
});

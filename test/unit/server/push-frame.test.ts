// The WebSocket text frames push delivery writes (compiled-subscriptions.ts textFrame, built by ws' Sender.frame),
// decoded by ws' own client-side Receiver: every payload length encoding (7-bit, 16-bit, 64-bit)
// and multi-byte UTF-8.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Writable } from 'node:stream';
import * as ws from 'ws';
import { textFrame } from '../../../src/server/compiled-subscriptions.ts';

// ws exports its frame parser (untyped in @types/ws).
const Receiver = (ws as unknown as { Receiver: new (opts: { isServer: boolean }) => Writable }).Receiver;

test('textFrame makes frames ws decodes to the same text, at every length encoding', async () => {
  const texts = ['', 'x'.repeat(125), 'y'.repeat(126), 'é'.repeat(40), 'z'.repeat(65_535), '€'.repeat(30_000), 'w'.repeat(70_000)];
  const receiver = new Receiver({ isServer: false });
  const got: string[] = [];
  receiver.on('message', (data: Buffer, isBinary: boolean) => {
    assert.equal(isBinary, false);
    got.push(data.toString('utf8'));
  });
  receiver.on('error', (err) => assert.fail(err));
  // All frames in one write, as a delivery pass sends them.
  await new Promise<void>((resolve, reject) => receiver.write(Buffer.concat(texts.flatMap(textFrame)), (err) => (err ? reject(err) : resolve())));
  assert.deepEqual(got.map((t) => t.length), texts.map((t) => t.length));
  assert.deepEqual(got, texts);
  assert.equal(Buffer.concat(textFrame('x'.repeat(125))).length, 127, '7-bit length: a 2-byte header');
  assert.equal(Buffer.concat(textFrame('x'.repeat(126))).length, 130, '16-bit length: a 4-byte header');
  assert.equal(Buffer.concat(textFrame('x'.repeat(65_536))).length, 65_546, '64-bit length: a 10-byte header');
});

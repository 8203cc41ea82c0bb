// serveGraphQLWs over a real ws server and a real graphql-ws client: a message that cannot be written
// because the connection is gone is logged (debug, JSON) and nothing reaches the console; the
// connection's other work goes on.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { GraphQLInt, GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket, { WebSocketServer } from 'ws';
import { createRootLogger } from '../../../src/logger.ts';
import { serveGraphQLWs } from '../../../src/server/graphql-ws-socket.ts';

/** A subscription field whose events the test pushes. */
function pushedSchema() {
  const waiting: ((n: number) => void)[] = [];
  const queued: number[] = [];
  const push = (n: number) => {
    const take = waiting.shift();
    if (take) take(n);
    else queued.push(n);
  };
  const events: AsyncIterableIterator<number> = {
    next: () => (queued.length ? Promise.resolve({ value: queued.shift()!, done: false }) : new Promise((resolve) => waiting.push((n) => resolve({ value: n, done: false })))),
    return: () => Promise.resolve({ value: undefined, done: true }),
    [Symbol.asyncIterator]: () => events,
  };
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLString, resolve: () => 'ok' } } }),
    subscription: new GraphQLObjectType({ name: 'Subscription', fields: { count: { type: GraphQLInt, subscribe: () => events, resolve: (n: number) => n } } }),
  });
  return { schema, push };
}

describe('serveGraphQLWs', () => {
  it('a message written to a connection that is already gone is logged at debug as JSON; nothing goes to the console', async () => {
    const lines: { level: number; msg: string }[] = [];
    const logger = createRootLogger('debug', new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string }), done()) }));
    const { schema, push } = pushedSchema();
    const http = createServer();
    const wss = new WebSocketServer({ server: http });
    const served = serveGraphQLWs({ schema }, wss, logger);
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const port = (http.address() as { port: number }).port;
    const consoleErrors: unknown[][] = [];
    const consoleError = console.error;
    console.error = (...args: unknown[]) => void consoleErrors.push(args);
    try {
      const client = createClient({ url: `ws://127.0.0.1:${port}`, webSocketImpl: WebSocket, retryAttempts: 0 });
      const received: number[] = [];
      client.subscribe<{ count: number }>({ query: 'subscription { count }' }, { next: (r) => void received.push(r.data!.count), error: () => {}, complete: () => {} });
      while (wss.clients.size === 0) await new Promise((r) => setTimeout(r, 10));
      push(1);
      while (received.length === 0) await new Promise((r) => setTimeout(r, 10));
      // The server's socket goes away; ws learns of it only after this tick, so the next event is
      // written to a destroyed stream (as when a client's reset arrives while its tail streams).
      const [server] = wss.clients;
      (server as unknown as { _socket: Socket })._socket.destroy();
      push(2);
      await once(server!, 'close');
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(consoleErrors, []);
      assert.ok(lines.some((l) => l.level === 20 && /not written: the client is gone/.test(l.msg)), JSON.stringify(lines));
      assert.ok(!lines.some((l) => l.level >= 50), 'no error logged');
      // The server goes on serving new connections.
      const again = createClient({ url: `ws://127.0.0.1:${port}`, webSocketImpl: WebSocket, retryAttempts: 0 });
      const ok = await new Promise((resolve, reject) => again.subscribe({ query: '{ ok }' }, { next: (r) => resolve(r.data), error: reject, complete: () => {} }));
      assert.deepEqual(ok, { ok: 'ok' });
      await again.dispose();
      await client.dispose();
    } finally {
      console.error = consoleError;
      served.dispose();
      wss.close();
      http.close();
    }
  });
});

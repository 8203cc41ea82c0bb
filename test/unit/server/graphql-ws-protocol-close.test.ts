// serveGraphQLWs over a real ws server and a raw WebSocket client: a message of a type only a server
// sends is a protocol error, closed 4400 as graphql-ws closes other invalid messages (fuzz QA: it was
// closed 4500 "Internal server error" and logged as an error).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { GRAPHQL_TRANSPORT_WS_PROTOCOL } from 'graphql-ws';
import WebSocket, { WebSocketServer } from 'ws';
import { createRootLogger } from '../../../src/logger.ts';
import { serveGraphQLWs } from '../../../src/server/graphql-ws-socket.ts';

describe('serveGraphQLWs protocol errors', () => {
  it('a client sending connection_ack, next or error (before or after connection_init) is closed 4400 naming the type; nothing is logged as an error', async () => {
    const lines: { level: number; msg: string }[] = [];
    const logger = createRootLogger('debug', new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string }), done()) }));
    const schema = new GraphQLSchema({ query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLString, resolve: () => 'ok' } } }) });
    const http = createServer();
    const wss = new WebSocketServer({ server: http });
    const served = serveGraphQLWs({ schema }, wss, logger);
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const url = `ws://127.0.0.1:${(http.address() as { port: number }).port}`;
    /** Sends `messages` on a new connection; the close code and reason it gets. */
    const closeFor = async (...messages: unknown[]) => {
      const ws = new WebSocket(url, GRAPHQL_TRANSPORT_WS_PROTOCOL);
      await once(ws, 'open');
      for (const m of messages) ws.send(JSON.stringify(m));
      const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
      return [code, String(reason)];
    };
    try {
      assert.deepEqual(await closeFor({ type: 'connection_ack' }), [4400, 'Unexpected message of type connection_ack received']);
      assert.deepEqual(await closeFor({ type: 'connection_init' }, { type: 'connection_ack' }), [4400, 'Unexpected message of type connection_ack received']);
      assert.deepEqual(await closeFor({ type: 'connection_init' }, { id: '1', type: 'next', payload: { data: {} } }), [4400, 'Unexpected message of type next received']);
      assert.deepEqual(await closeFor({ type: 'connection_init' }, { id: '1', type: 'error', payload: [{ message: 'x' }] }), [4400, 'Unexpected message of type error received']);
      // Other invalid messages keep graphql-ws' own 4400.
      assert.deepEqual(await closeFor({ type: 'no_such_type' }), [4400, 'Invalid message received']);
      assert.ok(!lines.some((l) => l.level >= 50), JSON.stringify(lines));
    } finally {
      served.dispose();
      wss.close();
      http.close();
    }
  });
});

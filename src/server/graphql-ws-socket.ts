// graphql-ws over a `ws` server: graphql-ws' protocol (makeServer) on each socket, as its own
// `graphql-ws/use/ws` starter does (which says to copy and adjust it), with these differences:
// - A message that cannot be written (the peer reset the connection while its tail was streaming)
//   resolves instead of failing: the peer is gone and its socket's 'close' ends its operations.
//   The starter rejected, and every such client logged a console stack trace "Internal error
//   occurred during message handling" and got a 4500 close.
// - Errors go to the component's pino logger as JSON lines, never to the console, and a close for an
//   internal error says only "Internal server error".
// - A message of a type only a server sends (`connection_ack`, `next`, `error`) is closed 4400, as
//   graphql-ws closes every other invalid message; graphql-ws throws for it, which was a 4500 (fuzz QA).
// - No keep-alive pings of its own: ws-liveness.ts pings at limits.connections.wsPingIntervalMs.
//   The starter also pinged every 12 s and cut a peer that took 12 s to answer, whatever that setting.
import type { IncomingMessage } from 'node:http';
import { CloseCode, handleProtocols, makeServer, type ConnectionInitMessage, type ServerOptions } from 'graphql-ws';
import type { Extra } from 'graphql-ws/use/ws';
import type { Logger } from 'pino';
import { WebSocket, type WebSocketServer } from 'ws';

/** Serves graphql-ws on every connection `wss` emits; `dispose` closes them (1001). */
export function serveGraphQLWs(
  options: ServerOptions<ConnectionInitMessage['payload'], Extra>,
  wss: WebSocketServer,
  logger: Logger,
): { dispose(): void } {
  const server = makeServer(options);
  wss.options.handleProtocols = handleProtocols;
  wss.on('error', (err) => logger.error({ err }, 'WebSocket server error'));
  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    // ws emits 'error' only for what the peer sent (a frame over maxPayload, invalid UTF-8, a bad
    // opcode) and closes the connection itself with the matching code (1009, 1007, 1002).
    socket.on('error', (err) => logger.debug({ err }, 'WebSocket protocol error from the client; ws closed the connection'));
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve) => {
            if (socket.readyState !== WebSocket.OPEN) return resolve();
            socket.send(data, (err) => {
              if (err) logger.debug({ err, frameStart: data.slice(0, 60) }, 'a graphql-ws message was not written: the client is gone');
              resolve();
            });
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', (data) => {
            handle(String(data)).catch((err: unknown) => {
              if (isUnexpectedMessageType(err)) return socket.close(CloseCode.BadRequest, err.message);
              logger.error({ err }, 'graphql-ws message handling failed');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            });
          }),
      },
      { socket, request },
    );
    socket.once('close', (code, reason) => {
      closed(code, String(reason)).catch((err: unknown) => logger.error({ err }, 'graphql-ws connection cleanup failed'));
    });
  });
  return {
    dispose() {
      for (const client of wss.clients) client.close(1001, 'Going away');
    },
  };
}

/**
 * graphql-ws' error for a well-formed message of a type a server never receives (its `default:`
 * case, graphql-ws 6); parseMessage has already refused unknown types.
 */
function isUnexpectedMessageType(err: unknown): err is Error {
  return err instanceof Error && /^Unexpected message of type \w+ received$/.test(err.message);
}

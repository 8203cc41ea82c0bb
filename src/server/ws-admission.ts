// Until its connection_init is admitted, a graphql-ws client is nobody, and it may send what an HTTP
// client may send before its credentials are checked: about its headers. ws' own bound,
// maxPayload (limits.graphql.maxBodyBytes, 16 MiB by default), is per message, and graphql-ws
// buffers, decodes and JSON-parses a whole connection_init before its credentials are looked at:
// eight unauthenticated sockets each sending a 15 MB connection_init took a tenant's query p99 to
// 1.2 s (security QA). So what a connection receives before it is admitted is counted on its TCP
// socket, frame headers included, and past the bound the connection is closed (1009, with a reason
// naming the bound) and read no further. An admitted connection's messages are bounded by
// maxPayload, like an HTTP request's body by maxBodyBytes.
import { maxHeaderSize } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/** RFC 6455 "Message Too Big", as ws closes a connection whose message exceeds maxPayload. */
export const WS_TOO_BIG_CLOSE_CODE = 1009;

/** How long a refused connection's close frame has to reach its client before the socket is cut. */
const LINGER_MS = 1_000;

/**
 * The bytes a connection may send before it is admitted: node:http's limit on a request's headers
 * (16 KiB unless `--max-http-header-size` says otherwise), where an HTTP client's credentials go;
 * never more than one message may be (`maxBodyBytes`).
 */
export function unadmittedBytes(maxBodyBytes: number): number {
  return Math.min(maxHeaderSize, maxBodyBytes);
}

/**
 * Counts what `socket` (the connection's TCP or TLS socket) receives until the returned function is
 * called (when the connection is admitted). Past `maxBytes` the WebSocket stops reading (ws' pause:
 * the client's data waits in the kernel's buffers, at most one chunk more reaches ws), is sent a
 * close frame (1009) and FIN, and is cut `LINGER_MS` later if its client has not closed by then.
 */
export function limitUntilAdmitted(ws: WebSocket, socket: Duplex, maxBytes: number): () => void {
  let received = 0;
  const count = (chunk: Buffer) => {
    received += chunk.length;
    if (received <= maxBytes) return;
    socket.off('data', count);
    ws.pause();
    ws.close(WS_TOO_BIG_CLOSE_CODE, `more than ${maxBytes} bytes sent before the connection was admitted`);
    socket.end();
    const cut = setTimeout(() => ws.terminate(), LINGER_MS).unref();
    ws.once('close', () => clearTimeout(cut));
  };
  socket.on('data', count);
  return () => socket.off('data', count);
}

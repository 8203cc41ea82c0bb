// graphql-ws connections that hold resources without using them are closed: one with no operation
// running and no message for limits.connections.wsIdleTimeoutMs (close code 4000), and one that did
// not answer the previous WebSocket ping within wsPingIntervalMs (terminated: the peer is gone).
// A connection the server closes (any reason: idle, a credential, a message over the size limit) is
// cut when the peer has not finished the closing handshake within CLOSE_HANDSHAKE_MS.
import type { WebSocket } from 'ws';
import type { ConnectionLimits } from './connection-limits.ts';

export const WS_IDLE_CLOSE_CODE = 4000;

/**
 * How long a closing connection waits for the peer's close frame (ws' `closeTimeout`, 30 s by
 * default, during which it reads and discards whatever the peer sends, after a message over
 * maxPayload say): a peer that never answers would hold the socket all that time.
 */
export const CLOSE_HANDSHAKE_MS = 2_000;

export function watchWebSocket(socket: WebSocket, limits: ConnectionLimits, running: () => number): void {
  const timers: NodeJS.Timeout[] = [];
  let lastMessage = Date.now();
  socket.on('message', () => (lastMessage = Date.now()));
  if (limits.wsIdleTimeoutMs > 0) {
    const idleMs = limits.wsIdleTimeoutMs;
    timers.push(
      setInterval(
        () => {
          if (running() === 0 && Date.now() - lastMessage >= idleMs) socket.close(WS_IDLE_CLOSE_CODE, `idle for ${idleMs} ms with no operation running`);
        },
        Math.max(50, Math.min(idleMs / 4, 30_000)),
      ),
    );
  }
  if (limits.wsPingIntervalMs > 0) {
    let answered = true;
    socket.on('pong', () => (answered = true));
    timers.push(
      setInterval(() => {
        if (!answered) return void socket.terminate();
        answered = false;
        socket.ping();
      }, limits.wsPingIntervalMs),
    );
  }
  for (const t of timers) t.unref();
  socket.once('close', () => timers.forEach(clearInterval));
}

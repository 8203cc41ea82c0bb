// graphql-ws connections that hold resources without using them are closed: one with no operation
// running and neither a message nor the end of an operation for limits.connections.wsIdleTimeoutMs
// (close code 4000), and one whose peer is gone (terminated).
//
// Gone is: the previous WebSocket ping (every wsPingIntervalMs) is unanswered and the peer is not
// behind. A client that is alive but behind (it reads slower than its tails, or stopped reading a
// while) has its ping queued behind megabytes it has not read, so its pong is late however alive it
// is; cutting it as "missed ping" broke the tails' contract (the oldest events are dropped and
// counted, the client stays). Behind is: more than BEHIND_BYTES written since its last pong, or
// bytes still in the socket's write buffer. Then it is alive while the kernel takes more of what we
// write, and cut once it has taken nothing for limits.connections.sseStalledMs, as an SSE stream is
// (sse-liveness.ts); a gone peer's unacknowledged bytes also end in the kernel's retransmission
// timeout. Tail events meanwhile wait in each subscription's bounded buffer, not in the socket's
// (compiled-subscriptions.ts takes events only while the socket takes them; graphql-ws' path awaits
// each write).
//
// A connection the server closes (any reason: idle, a credential, a message over the size limit) is
// cut when the peer has not finished the closing handshake within CLOSE_HANDSHAKE_MS.
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { ConnectionLimits } from './connection-limits.ts';

export const WS_IDLE_CLOSE_CODE = 4000;

/**
 * How long a closing connection waits for the peer's close frame (ws' `closeTimeout`, 30 s by
 * default, during which it reads and discards whatever the peer sends, after a message over
 * maxPayload say): a peer that never answers would hold the socket all that time.
 */
export const CLOSE_HANDSHAKE_MS = 2_000;

export interface WebSocketWatch {
  /** One of the connection's operations ended (completed, failed or refused): its idle time counts from now. */
  operationEnded(): void;
}

/** ws' underlying net.Socket (`_socket`: not public API; without it a missed pong cuts, as before). */
const netSocketOf = (ws: WebSocket): Socket | undefined => (ws as unknown as { _socket?: Socket })._socket;

export function watchWebSocket(socket: WebSocket, limits: ConnectionLimits, running: () => number): WebSocketWatch {
  const timers: NodeJS.Timeout[] = [];
  let lastActive = Date.now();
  const active = () => (lastActive = Date.now());
  socket.on('message', active);
  if (limits.wsIdleTimeoutMs > 0) {
    const idleMs = limits.wsIdleTimeoutMs;
    timers.push(
      setInterval(
        () => {
          if (running() === 0 && Date.now() - lastActive >= idleMs) socket.close(WS_IDLE_CLOSE_CODE, `idle for ${idleMs} ms with no operation running`);
        },
        Math.max(50, Math.min(idleMs / 4, 30_000)),
      ),
    );
  }
  if (limits.wsPingIntervalMs > 0) timers.push(pingUntilGone(socket, limits.wsPingIntervalMs, limits.sseStalledMs));
  for (const t of timers) t.unref();
  socket.once('close', () => timers.forEach(clearInterval));
  return { operationEnded: active };
}

/**
 * Written after the last answered ping, more than this excuses a late pong (the peer may be reading
 * it). A trickle (a quiet tail's events, a connection_ack) does not: a live reader gets through it
 * within the interval, and a gone peer's kernel takes it as well (its ACKs are not needed until the
 * send buffer is full), so it says nothing about the peer.
 */
const BEHIND_BYTES = 64 * 1024;

/** Pings every `intervalMs`; terminates the socket when its peer is gone (see the top of this file). */
function pingUntilGone(socket: WebSocket, intervalMs: number, stalledMs: number): NodeJS.Timeout {
  const raw = netSocketOf(socket);
  // What the kernel has taken of what was written (the peer's kernel may hold megabytes of it
  // unread, which we cannot see).
  const taken = () => (raw ? raw.bytesWritten - raw.writableLength : 0);
  let answered = true;
  let confirmed = taken(); // the peer has read up to here: it answered the ping written there
  let pinged = confirmed; // where the unanswered ping was written
  let lastTaken = confirmed;
  let stalledSince: number | undefined;
  socket.on('pong', () => (answered = true));
  return setInterval(() => {
    const now = taken();
    const progressed = now > lastTaken;
    lastTaken = now;
    if (answered) {
      answered = false;
      confirmed = pinged;
      stalledSince = undefined;
      socket.ping();
      pinged = lastTaken = taken();
      return;
    }
    // Behind: more written since the last answered ping than a live peer's kernel takes unread, or
    // bytes still waiting to go. It is alive while the kernel takes more of them (the peer ACKs
    // them), gone once it has taken nothing for stalledMs.
    const behind = now - confirmed > BEHIND_BYTES || socket.bufferedAmount > 0;
    if (!behind || stalledMs <= 0) return void socket.terminate();
    if (progressed) stalledSince = undefined;
    else if (stalledSince === undefined) stalledSince = Date.now();
    else if (Date.now() - stalledSince >= stalledMs) socket.terminate();
  }, intervalMs);
}

// A GraphQL-over-SSE stream whose client stopped reading would keep its subscription (and its slot
// toward tail.maxPerTenant / maxSubscriptions) until the socket died: Yoga waits for `drain` before
// pulling the next event, the tail drops and counts events meanwhile, and SSE has no ping a dead
// reader would fail to answer (graphql-ws has: ws-liveness.ts). So a stream whose write buffer is
// over its mark with no progress (a drain, or the buffer shrinking) for
// limits.connections.sseStalledMs is cut; a slow reader's buffer stays over its mark and is not. Nothing can tell a stalled reader of a
// quiet tail from a live one; that one costs its slot only.
import type { ServerResponse } from 'node:http';

/** Cuts `res` once its client has taken nothing for `stalledMs` (its buffer over its mark, neither a `drain` nor a shrinking buffer since; 0 = never); `cut` is told before. */
export function cutStalledEventStream(res: ServerResponse, stalledMs: number, cut: () => void): void {
  if (stalledMs <= 0) return;
  let fullSince: number | undefined;
  // Progress is any data the kernel took since the last look: the buffered length going down (a
  // write completes as the client reads) or a `drain`. The buffer itself stays over its mark for a
  // reader slower than its tail (the kernel's buffers hold megabytes, and Yoga writes again at each
  // `drain`): a steady 8 KB/s reader was cut as stalled after 100 s (soak QA, session 31).
  let buffered = 0;
  const progressed = () => (fullSince = undefined);
  res.on('drain', progressed);
  const timer = setInterval(
    () => {
      const length = res.writableLength;
      if (!res.writableNeedDrain || length < buffered) fullSince = undefined;
      buffered = length;
      if (!res.writableNeedDrain) return;
      fullSince ??= Date.now();
      if (Date.now() - fullSince < stalledMs) return;
      clearInterval(timer);
      cut();
      res.destroy();
    },
    Math.max(50, Math.min(stalledMs / 4, 10_000)),
  );
  timer.unref();
  res.once('close', () => {
    clearInterval(timer);
    res.off('drain', progressed);
  });
}

// A GraphQL-over-SSE stream whose client stopped reading would keep its subscription (and its slot
// toward tail.maxPerTenant / maxSubscriptions) until the socket died: Yoga waits for `drain` before
// pulling the next event, the tail drops and counts events meanwhile, and SSE has no ping a dead
// reader would fail to answer (graphql-ws has: ws-liveness.ts). So a stream whose write buffer stays
// over its mark for limits.connections.sseStalledMs is cut. Nothing can tell a stalled reader of a
// quiet tail from a live one; that one costs its slot only.
import type { ServerResponse } from 'node:http';

/** Cuts `res` once its client has taken nothing for `stalledMs` (0 = never); `cut` is told before. */
export function cutStalledEventStream(res: ServerResponse, stalledMs: number, cut: () => void): void {
  if (stalledMs <= 0) return;
  let fullSince: number | undefined;
  const timer = setInterval(
    () => {
      if (!res.writableNeedDrain) return void (fullSince = undefined);
      fullSince ??= Date.now();
      if (Date.now() - fullSince < stalledMs) return;
      clearInterval(timer);
      cut();
      res.destroy();
    },
    Math.max(50, Math.min(stalledMs / 4, 10_000)),
  );
  timer.unref();
  res.once('close', () => clearInterval(timer));
}

// The tarpit (limits.refusalDelay): a tenant refused more than `afterRefusals` times within one
// Retry-After window (refusal-penalty.ts) keeps sending without waiting, so each further refusal is
// held, unanswered and unread, until that window ends (at most `maxMs`), then answered exactly as it
// would have been at once. Each is answered at a random point of the second after the window's end
// (SPREAD_MS): answered together, a flooder's held requests all came back at once and the next
// window's allowance was admitted in one burst, which cost a quiet tenant beside it its p99
// (bench:abuse --a-spans 200, session 28: flood against the same allowance spent evenly, query p99
// ×1.64 and ×1.74 answered together, ×1.16 and ×1.18 spread). A client that waits for its answer before sending again (a keep-alive
// HTTP loop, gRPC unary calls in a loop) then gets ~1 refusal per window per connection instead of
// hundreds per second, and the gateway stops spending its core refusing it (nginx `limit_req`
// delay, SMTP tarpits). Used by every rate-limit refusal path: OTLP/HTTP, OTLP/gRPC (at metadata),
// GraphQL HTTP and graphql-ws.
//
// Bounds, so the tarpit is not itself a resource hole: at most `maxHeldPerTenant` and `maxHeld`
// requests held (beyond, answered at once as before), timers unref'd, every held request answered
// at once on shutdown (`close`), a held request whose client goes away forgotten.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { MetricSample } from '../server/metrics.ts';
import { type RefusalDelayConfig, defaultLimitsConfig } from '../config/security.ts';
import { type RefusalWindow, passes } from './refusal-penalty.ts';

export type { RefusalDelayConfig };

/** Where a refusal is answered, as the `transport` label of the metrics. */
export type RefusalTransport = 'otlp_http' | 'otlp_grpc' | 'graphql';
const TRANSPORTS: RefusalTransport[] = ['otlp_http', 'otlp_grpc', 'graphql'];

export interface HeldRefusal {
  /** The client went away: forget the refusal without answering it. */
  drop(): void;
}

export interface RefusalDelay {
  /**
   * Holds one rate-limit refusal of `tenant`, counted in `window`, when the tenant has passed
   * `afterRefusals` in that window and the caps allow: `answer` then runs when the window ends (at
   * most `maxMs` from now), or at once on `close`. Undefined when the refusal is to be answered
   * now (by the caller; `answer` is not called).
   */
  hold(transport: RefusalTransport, tenant: string, window: RefusalWindow, answer: () => void): HeldRefusal | undefined;
  /** Answers every held refusal now and holds no more (shutdown: a stop never waits for the tarpit). */
  close(): void;
  stats(): Record<RefusalTransport, RefusalDelayStats>;
  metrics(): MetricSample[];
}

export interface RefusalDelayStats {
  /** Refusals held now. */
  held: number;
  /** Refusals held (answered late, released at shutdown, or forgotten when the client went away). */
  delayed: number;
  /** Refusals that passed the threshold but were answered at once because a cap was reached. */
  capped: number;
}

interface Held {
  transport: RefusalTransport;
  tenant: string;
  answer: () => void;
  timer: NodeJS.Timeout;
}

/** Held refusals are answered within this long after their window ends, at random. */
export const SPREAD_MS = 1000;

export function createRefusalDelay(cfg: RefusalDelayConfig, logger?: Logger, now: () => number = Date.now, random: () => number = Math.random): RefusalDelay {
  const held = new Set<Held>();
  const heldPerTenant = new Map<string, number>();
  const stats = Object.fromEntries(TRANSPORTS.map((t) => [t, { held: 0, delayed: 0, capped: 0 }])) as Record<RefusalTransport, RefusalDelayStats>;
  let on = cfg.maxMs > 0 && cfg.afterRefusals > 0;

  /** Takes `h` out of the tarpit; false when it already was (released, dropped). */
  const remove = (h: Held): boolean => {
    if (!held.delete(h)) return false;
    clearTimeout(h.timer);
    stats[h.transport].held--;
    const n = (heldPerTenant.get(h.tenant) ?? 1) - 1;
    if (n <= 0) heldPerTenant.delete(h.tenant);
    else heldPerTenant.set(h.tenant, n);
    return true;
  };
  const release = (h: Held) => {
    if (!remove(h)) return;
    try {
      h.answer();
    } catch (err) {
      // A transport's answer failing (its socket already gone) must not stop the others being answered.
      logger?.warn({ err, transport: h.transport }, 'answering a held refusal failed');
    }
  };

  return {
    hold(transport, tenant, window, answer) {
      if (!on || !passes(window, cfg.afterRefusals)) return undefined;
      const untilEnd = window.endsAt - now();
      if (untilEnd <= 0) return undefined;
      const ms = Math.min(untilEnd + random() * SPREAD_MS, cfg.maxMs);
      const tenantHeld = heldPerTenant.get(tenant) ?? 0;
      if (held.size >= cfg.maxHeld || tenantHeld >= cfg.maxHeldPerTenant) {
        stats[transport].capped++;
        return undefined;
      }
      const h: Held = { transport, tenant, answer, timer: setTimeout(() => release(h), ms).unref() };
      held.add(h);
      heldPerTenant.set(tenant, tenantHeld + 1);
      stats[transport].held++;
      stats[transport].delayed++;
      return { drop: () => void remove(h) };
    },
    close() {
      on = false;
      for (const h of [...held]) release(h);
    },
    stats: () => Object.fromEntries(TRANSPORTS.map((t) => [t, { ...stats[t] }])) as Record<RefusalTransport, RefusalDelayStats>,
    metrics() {
      return TRANSPORTS.flatMap((transport): MetricSample[] => [
        { name: 'teleql_refusals_held', help: 'Rate-limit refusals held unanswered until their tenant\'s Retry-After window ends (limits.refusalDelay)', type: 'gauge', value: stats[transport].held, labels: { transport } },
        { name: 'teleql_refusals_delayed_total', help: 'Rate-limit refusals held before being answered (late, at shutdown, or not at all when the client went away; limits.refusalDelay)', type: 'counter', value: stats[transport].delayed, labels: { transport } },
        { name: 'teleql_refusals_hold_capped_total', help: 'Refusals of a tenant past limits.refusalDelay.afterRefusals answered at once because maxHeld or maxHeldPerTenant was reached', type: 'counter', value: stats[transport].capped, labels: { transport } },
      ]);
    },
  };
}

/** Never holds: what a listener built without the process's limits uses. */
export const noRefusalDelay: RefusalDelay = createRefusalDelay({ ...defaultLimitsConfig().refusalDelay, maxMs: 0 });

/**
 * Holds an HTTP refusal on `socket`; a socket that closes while held is forgotten. With `unread`
 * nothing more is read from the socket while held (it is paused: node:http stops reading, so an
 * unread body stays in the kernel) and `answer` must resume it if the connection is to be read
 * again; the price is that the client's FIN is not seen either (seeing it means reading, body
 * first), so a held request whose client gave up is found out when its answer is written, at most
 * `maxMs` later. False when the refusal is to be answered now.
 */
export function holdHttpRefusal(
  delay: RefusalDelay,
  transport: RefusalTransport,
  tenant: string,
  window: RefusalWindow,
  socket: Socket,
  unread: boolean,
  answer: () => void,
): boolean {
  const onClose = () => h?.drop();
  const h = delay.hold(transport, tenant, window, () => {
    socket.off('close', onClose);
    answer();
  });
  if (!h) return false;
  if (unread) socket.pause();
  socket.once('close', onClose);
  return true;
}

/**
 * For a refusal answered by returning it (a graphql-ws operation's errors): resolves when it is to
 * be answered — at once when not held, else when released, or when `socket` closes while held (the
 * answer then goes nowhere). The socket is read on: its other operations are served meanwhile.
 */
export function refusalDue(
  delay: RefusalDelay,
  transport: RefusalTransport,
  tenant: string,
  window: RefusalWindow,
  socket: { once(event: 'close', fn: () => void): unknown; off(event: 'close', fn: () => void): unknown },
): Promise<void> {
  return new Promise((resolve) => {
    const onClose = () => {
      h?.drop();
      resolve();
    };
    const h = delay.hold(transport, tenant, window, () => {
      socket.off('close', onClose);
      resolve();
    });
    if (!h) return resolve();
    socket.once('close', onClose);
  });
}

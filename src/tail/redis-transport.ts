// The tail transport for several replicas (STYLE 11): Redis pub/sub, one channel per (topic,
// tenant). A replica publishes to Redis only what another replica listens to, and delivers to its
// own listeners directly, so a subscriber on the ingesting replica gets each record once.
//
// Who listens where is announced on a control channel: each replica sends the full set of channels
// it is subscribed to when that set changes and every `heartbeatMs`; a replica that has not been
// heard of for three heartbeats counts as gone. A replica announces a channel only once its own
// SUBSCRIBE is confirmed, so by the time a publisher knows of the interest, Redis delivers.
// A new replica says hello and the others answer with their sets at once.
//
// While Redis is unreachable, publishes fail fast (no offline queue grows on the ingest path) and
// are counted; ioredis reconnects and resubscribes by itself. What other replicas ingest meanwhile
// does not reach this replica's tails, and no event says so with `dropped` (nobody can count which
// of those records a subscription would have matched): the outage is logged with its length. Once
// the subscriber connection is back, the replica says hello, so the others learn its channels (and
// tell theirs) at once instead of at their next heartbeats: after an outage longer than three
// heartbeats they had forgotten each other.
import { randomUUID } from 'node:crypto';
import { logConnectionErrors, Redis, reconnectDelayMs } from '../startup/ioredis.ts';
import type { Logger } from 'pino';
import type { TailTopic, TailTopics } from './topics.ts';
import { TAIL_TOPICS } from './topics.ts';
import { createInMemoryTransport, type TailTransport } from './transport.ts';

export interface RedisTransportOptions {
  url: string;
  logger: Logger;
  /** How often this replica repeats which channels it listens to. */
  heartbeatMs?: number;
  /** Channel name prefix, so several gateways can share one Redis. */
  prefix?: string;
}

export interface RedisTransportStats {
  published: number;
  received: number;
  publishErrors: number;
  /** Times the subscriber connection came back after it was lost. */
  reconnects: number;
}

interface Announcement {
  replica: string;
  channels: string[];
  hello?: boolean;
}

// Records carry bigint nanoseconds; JSON has no bigint, so they travel as {"$n": "…"}.
const encode = (records: readonly unknown[]) => JSON.stringify(records, (_k, v: unknown) => (typeof v === 'bigint' ? { $n: v.toString() } : v));
const decode = (text: string): unknown[] =>
  JSON.parse(text, (_k, v: unknown) => {
    if (v !== null && typeof v === 'object' && typeof (v as { $n?: unknown }).$n === 'string') return BigInt((v as { $n: string }).$n);
    return v;
  }) as unknown[];

export type RedisTransport = TailTransport & { stats(): RedisTransportStats; replicaId: string };

export function createRedisTransport(opts: RedisTransportOptions): RedisTransport {
  const prefix = opts.prefix ?? 'teleql:tail';
  const heartbeatMs = opts.heartbeatMs ?? 2000;
  const replicaId = randomUUID();
  const log = opts.logger;
  const control = `${prefix}:replicas`;
  const redisOpts = { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5000, retryStrategy: reconnectDelayMs };
  const pub = new Redis(opts.url, { ...redisOpts, enableOfflineQueue: false });
  const sub = new Redis(opts.url, redisOpts);
  for (const [name, conn] of [['publisher', pub], ['subscriber', sub]] as const) {
    logConnectionErrors(conn, log, { connection: name }, 'redis connection error');
  }

  const local = createInMemoryTransport();
  const stats: RedisTransportStats = { published: 0, received: 0, publishErrors: 0, reconnects: 0 };
  const channelOf = (tenant: string, topic: TailTopic) => `${prefix}:${topic}:${tenant}`;
  const topicPrefix = new Map(TAIL_TOPICS.map((t) => [`${prefix}:${t}:`, t]));
  /** Channels this replica's SUBSCRIBE is confirmed for and that still have listeners here. */
  const subscribed = new Set<string>();
  /** Other replicas: the channels each listens to, and when that expires. */
  const remote = new Map<string, { channels: Set<string>; expires: number }>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let announceQueued = false;

  const announce = (hello = false) => {
    if (closed && !hello) return;
    const msg: Announcement = { replica: replicaId, channels: closed ? [] : [...subscribed], ...(hello && { hello }) };
    pub.publish(control, JSON.stringify(msg)).catch(() => {
      stats.publishErrors++;
    });
  };
  const announceSoon = () => {
    if (announceQueued) return;
    announceQueued = true;
    queueMicrotask(() => {
      announceQueued = false;
      announce();
    });
  };

  // Set while the subscriber connection is lost after start(): when it went.
  let lostAt: number | undefined;
  let started = false;
  sub.on('close', () => {
    if (!started || closed || lostAt !== undefined) return;
    lostAt = Date.now();
    log.warn('redis connection lost: live tails here miss what other replicas ingest until it is back');
  });
  let helloWhenPublisherReady = false;
  pub.on('ready', () => {
    if (!helloWhenPublisherReady || closed) return;
    helloWhenPublisherReady = false;
    announce(true);
  });
  sub.on('ready', () => {
    if (lostAt === undefined || closed) return;
    const outageMs = Date.now() - lostAt;
    lostAt = undefined;
    stats.reconnects++;
    // ioredis sent its resubscribes before emitting 'ready' (on the next tick), so this SUBSCRIBE is
    // answered after them: the hello goes out once every channel here is subscribed again.
    sub.subscribe(control).then(
      () => {
        log.warn({ outageMs }, 'redis connection back: live tails here missed what other replicas ingested meanwhile');
        // The publisher reconnects on its own schedule, and without an offline queue a hello sent
        // before it is back would be lost.
        if (pub.status === 'ready') announce(true);
        else helloWhenPublisherReady = true;
      },
      (err: unknown) => log.warn({ err: (err as Error).message }, 'redis subscribe after reconnecting failed'),
    );
  });

  const remoteListens = (channel: string) => {
    const now = Date.now();
    for (const [id, r] of remote) {
      if (r.expires < now) {
        remote.delete(id);
        continue;
      }
      if (r.channels.has(channel)) return true;
    }
    return false;
  };

  sub.on('message', (channel: string, message: string) => {
    if (channel === control) {
      let a: Announcement;
      try {
        a = JSON.parse(message) as Announcement;
      } catch {
        return;
      }
      if (a.replica === replicaId) return;
      remote.set(a.replica, { channels: new Set(a.channels), expires: Date.now() + 3 * heartbeatMs });
      if (a.hello) announceSoon();
      return;
    }
    const nl = message.indexOf('\n');
    if (nl < 0 || message.slice(0, nl) === replicaId) return;
    let topic: TailTopic | undefined;
    let tenant = '';
    for (const [p, t] of topicPrefix) {
      if (channel.startsWith(p)) {
        topic = t;
        tenant = channel.slice(p.length);
        break;
      }
    }
    if (!topic) return;
    let records: unknown[];
    try {
      records = decode(message.slice(nl + 1));
    } catch (err) {
      log.warn({ err: (err as Error).message, channel }, 'undecodable tail message from redis');
      return;
    }
    // A channel is one tenant's; anything else in it is not delivered.
    const mine = records.filter((r) => (r as { tenant?: unknown }).tenant === tenant) as TailTopics[TailTopic][];
    stats.received += mine.length;
    if (mine.length > 0) local.publish(tenant, topic, mine);
  });

  return {
    replicaId,
    stats: () => ({ ...stats }),

    publish(tenant, topic, records) {
      local.publish(tenant, topic, records);
      const channel = channelOf(tenant, topic);
      if (closed || !remoteListens(channel)) return;
      // Counted once Redis took them: a publish that fails (an outage) counts as an error only.
      pub.publish(channel, `${replicaId}\n${encode(records)}`).then(
        () => {
          stats.published += records.length;
        },
        () => {
          stats.publishErrors++;
        },
      );
    },

    listen(tenant, topic, listener) {
      const channel = channelOf(tenant, topic);
      const first = !local.hasListeners(tenant, topic);
      const stop = local.listen(tenant, topic, listener);
      if (first && !closed) {
        sub.subscribe(channel).then(
          () => {
            if (!local.hasListeners(tenant, topic)) return;
            subscribed.add(channel);
            announceSoon();
          },
          (err: unknown) => log.warn({ err: (err as Error).message, channel }, 'redis subscribe failed'),
        );
      }
      return () => {
        stop();
        if (local.hasListeners(tenant, topic) || closed) return;
        if (subscribed.delete(channel)) announceSoon();
        sub.unsubscribe(channel).catch(() => {});
      };
    },

    hasListeners: (tenant, topic) => local.hasListeners(tenant, topic) || remoteListens(channelOf(tenant, topic)),

    async start() {
      try {
        await Promise.all([pub.connect(), sub.connect()]);
      } catch (err) {
        pub.disconnect();
        sub.disconnect();
        throw new Error(`tail.redis.url: cannot connect to ${opts.url.replace(/\/\/[^@/]*@/, '//…@')}: ${(err as Error).message}`, { cause: err });
      }
      await sub.subscribe(control);
      started = true;
      announce(true);
      timer = setInterval(() => announce(), heartbeatMs);
      timer.unref();
      log.info({ replica: replicaId }, 'live tails shared through redis');
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      subscribed.clear();
      // Tell the others at once, so they stop publishing to channels nobody here reads.
      if (pub.status === 'ready') await pub.publish(control, JSON.stringify({ replica: replicaId, channels: [] })).catch(() => {});
      await Promise.all([closeClient(pub), closeClient(sub)]);
    },
  };
}

/**
 * quit() while connected (the server sees a clean close), disconnect() otherwise: a quit() queued
 * while ioredis reconnects to a server that is gone waits on the retry schedule before it fails.
 */
async function closeClient(conn: Redis): Promise<void> {
  if (conn.status !== 'ready') return conn.disconnect();
  await conn.quit().catch(() => conn.disconnect());
}

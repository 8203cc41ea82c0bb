// The tail transport for several replicas (STYLE 11): Redis pub/sub, one channel per (topic,
// tenant). A replica publishes to Redis only what another replica listens to, and of that only the
// records the other's subscribers can match by their index keys (a service, a span or event name,
// a trace ID: TailInterest), and delivers to its own listeners directly, so a subscriber on the
// ingesting replica gets each record once.
//
// Who listens where is announced on a control channel: each replica sends the full set of channels
// it is subscribed to, with what it wants of each, when that changes and every `heartbeatMs`; a replica that has not been
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
//
// A batch that is exactly what one OTLP request decodes into (no processor changed it: the pipeline
// says so by passing the request along) travels as that request's body, and the replicas that get
// it decode it themselves: sending the body costs the ingesting replica a copy of its bytes, where
// serializing the records cost it ~1.5 µs per span, so busy tails served by other replicas cost
// ingest little. It is sent so only while every replica listening to the channel has announced
// that it decodes requests (`requests`), when at least half its records are wanted there (a few
// wanted records cost less serialized than the whole request decoded), and when its body is at most
// MAX_REQUEST_BYTES.
//
// Other records travel in V8's serialization (node:v8), which keeps bigint nanoseconds, NaN and ±Infinity
// (JSON wrote them as null: "NaN" attributes read "null" on other replicas), and writes an object
// the records share (their Resource and scope) once per message: JSON repeated a resource on every
// record, and 1,000 logs under a 560 KB resource could not be encoded at all. A batch goes in
// messages of about MESSAGE_BYTES, far below the 32 MB at which Redis cuts a subscriber whose output
// has not been read yet (client-output-buffer-limit pubsub 32mb), which one large batch used to do
// to every replica at once, losing what was in flight. Nothing here throws into the ingest path.
//
// A hung Redis (no reset, no answer) is found by this replica not hearing its own heartbeats: the
// subscriber connection is then dropped and reconnected, so the outage is logged and counted as a
// lost connection is; pending publishes time out instead of piling up.
import { randomUUID } from 'node:crypto';
import { deserialize, serialize } from 'node:v8';
import { logConnectionErrors, Redis, reconnectDelayMs, redisUrlForDisplay } from '../startup/ioredis.ts';
import type { Logger } from 'pino';
import { throttledLog } from '../logger.ts';
import type { TailTopic, TailTopics } from './topics.ts';
import { SIGNAL_OF_TOPIC, TAIL_TOPICS } from './topics.ts';
import { createInMemoryTransport, type TailTransport } from './transport.ts';
import { interestFilter, interestValues, mergeInterests, parseInterest, type TailInterest } from './index-fields.ts';
import { decodeRequest, type OtlpRequest } from '../otlp/codec.ts';

export interface RedisTransportOptions {
  url: string;
  logger: Logger;
  /** How often this replica repeats which channels it listens to. */
  heartbeatMs?: number;
  /**
   * Channel name prefix, so several deployments can share one Redis (tail.redis.channelPrefix);
   * by default `teleql:tail`, and `teleql:tail:db<N>` for a URL that selects database N: pub/sub
   * ignores database numbers, so two deployments told apart by them heard each other's tails.
   */
  prefix?: string;
}

/** A message's target size; one record larger than this goes alone. */
const MESSAGE_BYTES = 1 << 20;
/** A record whose message would pass this is not sent to other replicas (counted): Redis cuts subscribers at 32 MB. */
const MAX_MESSAGE_BYTES = 24 << 20;
/** Bytes of publishes waiting in the publisher's socket past which records are not sent (counted). */
const MAX_UNSENT_BYTES = 64 << 20;
/** A request body larger than this goes as its records, in messages of about MESSAGE_BYTES. */
const MAX_REQUEST_BYTES = 4 << 20;
/** Records per message before the first one of a batch is measured. */
const FIRST_CHUNK = 256;

/** The channel prefix for a Redis URL: the database number in it, when not 0, keeps deployments apart. */
export function defaultChannelPrefix(url: string): string {
  let db = 0;
  try {
    // ioredis reads the database from the path (`/3`) or, as any option, from the query (`?db=3`).
    const u = new URL(url);
    db = Number(u.searchParams.get('db') ?? (u.pathname.slice(1) || 0));
  } catch {
    // ioredis refuses the URL at connect, with its own message.
  }
  return Number.isSafeInteger(db) && db > 0 ? `teleql:tail:db${db}` : 'teleql:tail';
}

/**
 * The records in messages of about MESSAGE_BYTES (V8 serialization; a Resource or scope the records
 * share is written once per message). `tooLarge` counts records left out because one alone passes
 * MAX_MESSAGE_BYTES.
 */
export function encodeRecords(records: readonly unknown[]): { messages: { bytes: Buffer; records: number }[]; tooLarge: number } {
  const messages: { bytes: Buffer; records: number }[] = [];
  let tooLarge = 0;
  let n = FIRST_CHUNK;
  for (let i = 0; i < records.length; ) {
    const slice = records.slice(i, i + n);
    const bytes = serialize(slice);
    if (bytes.length > MESSAGE_BYTES && slice.length > 1) {
      // Too many: a smaller share, from what these weighed.
      n = Math.max(1, Math.floor((slice.length * MESSAGE_BYTES) / bytes.length / 2));
      continue;
    }
    i += slice.length;
    if (bytes.length > MAX_MESSAGE_BYTES) tooLarge++;
    else messages.push({ bytes, records: slice.length });
    n = Math.max(1, Math.min(4 * slice.length, Math.floor((slice.length * MESSAGE_BYTES) / Math.max(bytes.length, 1))));
  }
  return { messages, tooLarge };
}

export interface RedisTransportStats {
  /** Records Redis took for other replicas (those sent as requests included). */
  published: number;
  /** Messages that carried an OTLP request rather than serialized records. */
  publishedRequests: number;
  received: number;
  publishErrors: number;
  /** Times the subscriber connection came back after it was lost. */
  reconnects: number;
}

interface Announcement {
  replica: string;
  channels: string[];
  /**
   * Per channel of `channels`, the records its subscribers here can match (TailInterest); a channel
   * not in it (or the field absent: replicas before it) wants every record.
   */
  wants?: Record<string, unknown>;
  /** The replica decodes request messages (RequestMessage); replicas before them do not say it. */
  requests?: boolean;
  hello?: boolean;
}

/** A message that carries one OTLP request instead of records (see the comment at the top). */
interface RequestMessage {
  request: Buffer;
  format: OtlpRequest['format'];
  receivedAt: bigint;
}

const isRequestMessage = (m: unknown): m is RequestMessage => {
  const r = m as RequestMessage | null;
  return typeof r === 'object' && r !== null && Buffer.isBuffer(r.request) && (r.format === 'protobuf' || r.format === 'json') && typeof r.receivedAt === 'bigint';
};

/**
 * Announcements stay small: every replica receives each one on the control channel, and a message
 * near Redis' 32 MB pubsub output limit cut every replica's connection (QA round 38b: a tenant's
 * three tails on one 12 MB service name lost other tenants' records for as long as they ran). A
 * channel with a value longer than MAX_ANNOUNCED_VALUE_CHARS, or past MAX_ANNOUNCED_CHARS of values
 * in all, is announced as wanting all: it costs bandwidth, never a record.
 */
const MAX_ANNOUNCED_VALUE_CHARS = 1024;
const MAX_ANNOUNCED_CHARS = 256 * 1024;

export type RedisTransport = TailTransport & { stats(): RedisTransportStats; replicaId: string };

export function createRedisTransport(opts: RedisTransportOptions): RedisTransport {
  const prefix = opts.prefix || defaultChannelPrefix(opts.url);
  const heartbeatMs = opts.heartbeatMs ?? 2000;
  const replicaId = randomUUID();
  const header = Buffer.from(`${replicaId}\n`);
  const log = opts.logger;
  const control = `${prefix}:replicas`;
  const redisOpts = { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5000, retryStrategy: reconnectDelayMs };
  // commandTimeout: against a hung Redis, publishes fail (counted) instead of waiting in memory.
  const pub = new Redis(opts.url, { ...redisOpts, enableOfflineQueue: false, commandTimeout: 5000 });
  const sub = new Redis(opts.url, redisOpts);
  for (const [name, conn] of [['publisher', pub], ['subscriber', sub]] as const) {
    logConnectionErrors(conn, log, { connection: name }, 'redis connection error');
  }

  const local = createInMemoryTransport();
  const stats: RedisTransportStats = { published: 0, publishedRequests: 0, received: 0, publishErrors: 0, reconnects: 0 };
  // `v2`: V8-serialized messages. Replicas of the JSON format (before it) use other channel names,
  // so during a rolling upgrade the two kinds miss each other's records instead of failing to read them.
  const channelOf = (tenant: string, topic: TailTopic) => `${prefix}:v2:${topic}:${tenant}`;
  const topicPrefix = new Map(TAIL_TOPICS.map((t) => [`${prefix}:v2:${t}:`, t]));
  /** Channels this replica's SUBSCRIBE is confirmed for and that still have listeners here. */
  const subscribed = new Set<string>();
  /** Channels with listeners here whose SUBSCRIBE failed (Redis was away): tried again at each heartbeat and reconnect. */
  const unsubscribed = new Map<string, { tenant: string; topic: TailTopic }>();
  /** Other replicas: the channels each listens to, what they want of each (absent: all), and when that expires. */
  const remote = new Map<string, { channels: Set<string>; wants: Map<string, TailInterest>; requests: boolean; expires: number }>();
  /**
   * Per channel, which records to send to other replicas (`wanted`; undefined: all) and whether all
   * of them decode requests, worked out from their announcements when first needed after one changed.
   */
  const remoteSends = new Map<string, { wanted: ((record: unknown) => boolean) | undefined; requests: boolean }>();
  /** Per channel with listeners here, what each listener's subscribers can match. */
  const localInterests = new Map<string, Set<() => TailInterest>>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let announceQueued = false;
  /** Heartbeats sent since this replica last heard its own announcement back (Redis delivers), and when the last was. */
  let unheardHeartbeats = 0;
  let lastHeartbeatAt = 0;
  /** Set once a failed SUBSCRIBE was logged; cleared when one succeeds. */
  let subscribeWarned = false;
  /** At most one warning a minute about records not sent (each failure is counted). */
  const warnNotSent = throttledLog(60_000);
  /** And about messages that cannot be read (nothing this version sends). */
  const warnUndecodable = throttledLog(60_000);
  const publishFailed = (count: number, why: string) => {
    stats.publishErrors += count;
    warnNotSent(() => log.warn({ err: why }, 'live-tail records not sent to other replicas (teleql_tail_redis_publish_errors_total counts them)'));
  };

  /** What this replica's subscribers can match, per subscribed channel that does not want all. */
  const ownWants = (): Record<string, TailInterest> | undefined => {
    let wants: Record<string, TailInterest> | undefined;
    let chars = 0;
    for (const channel of subscribed) {
      const interest = mergeInterests([...(localInterests.get(channel) ?? [])].map((of) => of()));
      const values = interestValues(interest);
      if (values === undefined || values.some((v) => v.length > MAX_ANNOUNCED_VALUE_CHARS)) continue;
      const size = values.reduce((n, v) => n + v.length, 0);
      if (chars + size > MAX_ANNOUNCED_CHARS) continue;
      chars += size;
      (wants ??= {})[channel] = interest;
    }
    return wants;
  };
  const announce = (hello = false) => {
    if (closed && !hello) return;
    const wants = closed ? undefined : ownWants();
    const msg: Announcement = { replica: replicaId, channels: closed ? [] : [...subscribed], ...(wants && { wants }), requests: true, ...(hello && { hello }) };
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

  const subscribe = (tenant: string, topic: TailTopic) => {
    const channel = channelOf(tenant, topic);
    unsubscribed.delete(channel);
    sub.subscribe(channel).then(
      () => {
        subscribeWarned = false;
        if (!local.hasListeners(tenant, topic)) return;
        subscribed.add(channel);
        announceSoon();
      },
      (err: unknown) => {
        if (!local.hasListeners(tenant, topic) || closed) return;
        // ioredis resubscribes after a reconnect only to channels whose SUBSCRIBE succeeded: a tail
        // opened while Redis was away would never hear other replicas again.
        if (!subscribeWarned) log.warn({ err: (err as Error).message, channel }, 'redis subscribe failed; trying again at each heartbeat until Redis answers');
        subscribeWarned = true;
        unsubscribed.set(channel, { tenant, topic });
      },
    );
  };
  const retrySubscribes = () => {
    for (const { tenant, topic } of [...unsubscribed.values()]) subscribe(tenant, topic);
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
    unheardHeartbeats = 0;
    retrySubscribes();
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
        remoteSends.clear();
        log.warn({ replica: id }, `replica not heard from for ${3 * heartbeatMs} ms: its live tails get nothing from here until it is heard again`);
        continue;
      }
      if (r.channels.has(channel)) return true;
    }
    return false;
  };

  /** What to send of a channel's records to other replicas (see remoteSends); call after remoteListens. */
  const remoteSend = (channel: string) => {
    let send = remoteSends.get(channel);
    if (send) return send;
    const interests: TailInterest[] = [];
    let requests = true;
    for (const r of remote.values()) {
      if (!r.channels.has(channel)) continue;
      interests.push(r.wants.get(channel) ?? 'all');
      requests &&= r.requests;
    }
    send = { wanted: interestFilter(mergeInterests(interests)), requests };
    remoteSends.set(channel, send);
    return send;
  };

  const onAnnouncement = (message: string) => {
    let a: Announcement;
    try {
      a = JSON.parse(message) as Announcement;
    } catch {
      return;
    }
    if (a.replica === replicaId) {
      unheardHeartbeats = 0;
      return;
    }
    const wants = new Map<string, TailInterest>();
    if (a.wants !== null && typeof a.wants === 'object') {
      for (const [channel, raw] of Object.entries(a.wants)) {
        const interest = parseInterest(raw);
        if (interest) wants.set(channel, interest);
      }
    }
    remote.set(a.replica, { channels: new Set(a.channels), wants, requests: a.requests === true, expires: Date.now() + 3 * heartbeatMs });
    remoteSends.clear();
    if (a.hello) announceSoon();
  };

  // Only the Buffer event: ioredis turns a message into a string only for 'message' listeners.
  sub.on('messageBuffer', (channelBytes: Buffer, message: Buffer) => {
    const channel = channelBytes.toString();
    if (channel === control) return onAnnouncement(message.toString());
    // The sending replica's ID and a line break (its own messages are skipped).
    const headerEnd = message.indexOf(10) + 1;
    if (headerEnd === 0 || message.subarray(0, headerEnd).equals(header)) return;
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
    let records: unknown;
    try {
      records = deserialize(message.subarray(headerEnd));
      const signal = SIGNAL_OF_TOPIC[topic];
      if (isRequestMessage(records) && signal) {
        // No replica sends more; anything that can publish to Redis could make every replica decode more.
        if (records.request.length > MAX_REQUEST_BYTES) throw new Error(`a request of ${records.request.length} bytes, over the ${MAX_REQUEST_BYTES} replicas send`);
        records = decodeRequest(signal, records.request, records.format, tenant, undefined, records.receivedAt).items;
      }
    } catch (err) {
      warnUndecodable(() => log.warn({ err: (err as Error).message, channel }, 'undecodable tail message from redis (logged at most once a minute)'));
      return;
    }
    if (!Array.isArray(records)) return;
    // A channel is one tenant's; anything else in it is not delivered.
    const mine = records.filter((r) => (r as { tenant?: unknown } | null)?.tenant === tenant) as TailTopics[TailTopic][];
    stats.received += mine.length;
    if (mine.length > 0) local.publish(tenant, topic, mine);
  });

  const heartbeat = () => {
    const now = Date.now();
    // An event loop held up past a heartbeat has not read what Redis sent meanwhile: no verdict then.
    if (now - lastHeartbeatAt > 2 * heartbeatMs) unheardHeartbeats = 0;
    lastHeartbeatAt = now;
    // Redis that hangs (stopped, a path that drops packets) closes nothing: this replica stops
    // hearing its own heartbeats. Reconnecting makes it a lost connection, logged and counted.
    if (unheardHeartbeats >= 3 && sub.status === 'ready' && pub.status === 'ready' && lostAt === undefined) {
      log.warn({ heartbeats: unheardHeartbeats }, 'redis stopped delivering this replica\'s own heartbeats; reconnecting');
      unheardHeartbeats = 0;
      // Both: on a path that drops packets the publisher's socket is as dead as the subscriber's.
      sub.disconnect(true);
      pub.disconnect(true);
    }
    if (pub.status === 'ready') unheardHeartbeats++;
    announce();
    retrySubscribes();
  };

  return {
    replicaId,
    stats: () => ({ ...stats }),

    publish(tenant, topic, records, request) {
      local.publish(tenant, topic, records);
      const channel = channelOf(tenant, topic);
      if (closed || !remoteListens(channel)) return;
      // Only what the other replicas' subscribers can match: one selective tail elsewhere would
      // otherwise cost this replica the serialization of every record (a quarter of its ingest).
      const { wanted, requests } = remoteSend(channel);
      let requestToSend = requests && request !== undefined && request.body.length <= MAX_REQUEST_BYTES ? request : undefined;
      if (wanted) {
        const matching = records.filter(wanted);
        if (matching.length === 0) return;
        // The request goes whole (the others' tails filter the rest) while at least half its
        // records are wanted; fewer cost less serialized here than decoded whole there.
        if (matching.length * 2 < records.length) requestToSend = undefined;
        if (!requestToSend) records = matching;
      }
      // Redis not reading (a dead path: the socket still says ready): what waits unwritten is bounded.
      if ((pub.stream?.writableLength ?? 0) > MAX_UNSENT_BYTES) return publishFailed(records.length, `more than ${MAX_UNSENT_BYTES} bytes wait to be sent to Redis`);
      let messages: { bytes: Buffer; records: number; request?: true }[];
      try {
        if (requestToSend) {
          // serialize copies the body, which stays the receiver's.
          const message: RequestMessage = { request: requestToSend.body, format: requestToSend.format, receivedAt: requestToSend.receivedAt };
          messages = [{ bytes: serialize(message), records: records.length, request: true }];
        } else {
          const encoded = encodeRecords(records);
          if (encoded.tooLarge > 0) publishFailed(encoded.tooLarge, `a record of more than ${MAX_MESSAGE_BYTES} bytes serialized`);
          messages = encoded.messages;
        }
      } catch (err) {
        return publishFailed(records.length, (err as Error).message);
      }
      for (const m of messages) {
        // Counted once Redis took them: a publish that fails (an outage) counts as an error only.
        pub.publish(channel, Buffer.concat([header, m.bytes])).then(
          () => {
            stats.published += m.records;
            if (m.request) stats.publishedRequests++;
          },
          (err: unknown) => publishFailed(m.records, (err as Error).message),
        );
      }
    },

    listen(tenant, topic, listener, interest = () => 'all') {
      const channel = channelOf(tenant, topic);
      const first = !local.hasListeners(tenant, topic);
      const stop = local.listen(tenant, topic, listener);
      let interests = localInterests.get(channel);
      if (!interests) localInterests.set(channel, (interests = new Set()));
      interests.add(interest);
      if (first && !closed) subscribe(tenant, topic);
      else if (subscribed.has(channel)) announceSoon();
      return () => {
        stop();
        interests.delete(interest);
        if (interests.size === 0 && localInterests.get(channel) === interests) localInterests.delete(channel);
        else if (subscribed.has(channel)) announceSoon();
        if (local.hasListeners(tenant, topic) || closed) return;
        unsubscribed.delete(channel);
        if (subscribed.delete(channel)) announceSoon();
        sub.unsubscribe(channel).catch(() => {});
      };
    },

    interestChanged(tenant, topic) {
      if (subscribed.has(channelOf(tenant, topic))) announceSoon();
    },

    hasListeners: (tenant, topic) => local.hasListeners(tenant, topic) || remoteListens(channelOf(tenant, topic)),

    async start() {
      try {
        await Promise.all([pub.connect(), sub.connect()]);
      } catch (err) {
        pub.disconnect();
        sub.disconnect();
        throw new Error(`tail.redis.url: cannot connect to ${redisUrlForDisplay(opts.url)}: ${(err as Error).message}`, { cause: err });
      }
      await sub.subscribe(control);
      started = true;
      lastHeartbeatAt = Date.now();
      announce(true);
      timer = setInterval(heartbeat, heartbeatMs);
      timer.unref();
      log.info({ replica: replicaId, channelPrefix: prefix }, 'live tails shared through redis');
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      subscribed.clear();
      unsubscribed.clear();
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

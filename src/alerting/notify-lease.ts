// Which replica sends notifications. Every replica evaluates every rule (each keeps its own state,
// history and alert events), but with several replicas sharing Redis only the holder of one lease
// key notifies, so a group is not notified once per replica. The lease is a Redis key holding the
// replica's ID with an expiry. The holder renews it on a timer of its own (a third of the lease),
// not at each evaluation tick: a tick waiting on a slow Prometheus must not let the lease expire
// and two replicas notify. Replicas that do not hold it try to take it at each tick. When the
// holder stops it lets go, when it dies the key expires and the next replica to tick takes over. A
// new holder sends what it has not delivered itself (the engine's notification state is what each
// replica delivered), and the resolutions of alerts the old holder may have sent as firing: the old
// holder's last deliveries may have failed, or arrived, so a takeover may repeat a message, never
// lose one.
import { randomUUID } from 'node:crypto';
import { logConnectionErrors, Redis, reconnectDelayMs } from '../startup/ioredis.ts';
import type { Logger } from 'pino';

export interface NotifyLease {
  /** Takes or renews the lease; resolves whether this replica notifies now. Never rejects. */
  renew(): Promise<boolean>;
  /**
   * The answer of the last renew (for notifications between ticks, e.g. a rule deleted). It changes
   * only at renew, so the engine sees every change of holder at the start of a tick.
   */
  held(): boolean;
  /** Lets go of the lease (another replica takes over at its next tick) and disconnects. Safe twice. */
  close(): Promise<void>;
}

/** One replica, no Redis: it always notifies. */
export function soleReplicaLease(): NotifyLease {
  return { renew: () => Promise.resolve(true), held: () => true, close: () => Promise.resolve() };
}

/**
 * The lease key of a deployment: keys live in the URL's Redis database, so only
 * tail.redis.channelPrefix has to tell apart deployments sharing one database. Without a prefix
 * (or with the tail bus's own default) it is the key earlier versions used, so that old and new
 * replicas of one deployment keep one holder through a rolling upgrade.
 */
export function notifyLeaseKey(channelPrefix: string): string {
  return channelPrefix === '' || channelPrefix === 'teleql:tail' ? 'teleql:alerting:notifier' : `${channelPrefix}:alerting:notifier`;
}

// Set the key to our ID when it is free or already ours, with a fresh expiry: 1 when it was ours,
// 2 when it was free (taken, or ours had expired), 0 when another replica holds it.
const TAKE_OR_RENEW = `local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if v == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end
return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface RedisLeaseOptions {
  url: string;
  logger: Logger;
  /** How long the lease outlives its last renewal: a dead holder's replacement waits this long. */
  ttlMs: number;
  /** Default notifyLeaseKey(''). */
  key?: string;
  /** How often the holder renews between ticks; default a third of ttlMs. 0: only renew() renews (a test's dead holder). */
  renewEveryMs?: number;
  /** Milliseconds now; injectable for tests of the Redis-down path. */
  now?: () => number;
}

export function redisNotifyLease(opts: RedisLeaseOptions): NotifyLease & { replicaId: string } {
  const key = opts.key ?? notifyLeaseKey('');
  const now = opts.now ?? Date.now;
  const renewEveryMs = opts.renewEveryMs ?? Math.floor(opts.ttlMs / 3);
  const replicaId = randomUUID();
  // commandTimeout: a hung Redis counts as unreachable instead of holding a tick (or the renewals) forever.
  const redis = new Redis(opts.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    commandTimeout: Math.min(5000, Math.max(100, Math.floor(opts.ttlMs / 3))),
    enableOfflineQueue: false,
    retryStrategy: reconnectDelayMs,
  });
  logConnectionErrors(redis, opts.logger, {}, 'redis connection error (alerting lease)');
  let connecting: Promise<void> | undefined;
  let held = false;
  // Whether Redis last answered that the key is ours (the timer keeps it while so).
  let owned = false;
  // The key was taken or expired since the last renew while held: another replica may have sent
  // meanwhile, so the next renew reports the lease lost once (the engine then distrusts what it
  // delivered before, and takes over at the tick after).
  let lapsed = false;
  let renewing = false;
  let timer: NodeJS.Timeout | undefined;
  // When Redis last answered; after a lease's length without an answer nobody can know who holds
  // it, so every replica notifies: duplicates are better than silence.
  let lastAnswer = now();
  let closed = false;

  const connected = () => {
    if (redis.status === 'ready') return Promise.resolve();
    connecting ??= redis.connect().finally(() => {
      connecting = undefined;
    });
    return connecting;
  };
  const takeOrRenew = async () => {
    await connected();
    const r = Number(await redis.eval(TAKE_OR_RENEW, 1, key, replicaId, String(opts.ttlMs)));
    lastAnswer = now();
    return r;
  };

  // Between ticks, while the key is ours. A failure here is retried at the next round, and renew()
  // decides what an unreachable Redis means.
  async function keep(): Promise<void> {
    if (!owned || renewing || closed) return;
    renewing = true;
    try {
      const r = await takeOrRenew();
      if (r !== 1 && held && !lapsed) {
        lapsed = true;
        opts.logger.warn({ replica: replicaId }, 'the alert notify lease lapsed between ticks (redis unreachable for a lease period?): notifications are handed over at the next tick');
      }
      owned = r !== 0;
    } catch {
      // Next round.
    } finally {
      renewing = false;
    }
  }

  return {
    replicaId,
    async renew() {
      if (closed) return (held = false);
      if (!timer && renewEveryMs > 0) {
        timer = setInterval(() => void keep(), renewEveryMs);
        timer.unref();
      }
      try {
        const r = await takeOrRenew();
        // Taken anew while we held it: it expired in between, and someone else may have held it.
        const holds = r !== 0 && !lapsed && !(held && owned && r === 2);
        lapsed = false;
        owned = r !== 0;
        if (holds !== held) opts.logger.info({ replica: replicaId }, holds ? 'this replica now sends alert notifications' : 'another replica sends alert notifications');
        held = holds;
      } catch (err) {
        const silent = now() - lastAnswer;
        if (silent >= opts.ttlMs && !held) opts.logger.warn({ err: (err as Error).message }, 'redis unreachable for a lease period: this replica notifies too');
        held = held || silent >= opts.ttlMs;
      }
      return held;
    },
    held: () => held,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      // The script deletes the key only while it holds our ID.
      if (redis.status === 'ready') await redis.eval(RELEASE, 1, key, replicaId).catch(() => undefined);
      held = false;
      owned = false;
      redis.disconnect();
    },
  };
}

// Which replica sends notifications. Every replica evaluates every rule (each keeps its own state,
// history and alert events), but with several replicas sharing Redis only the holder of one lease
// key notifies, so a group is not notified once per replica. The lease is a Redis key holding the
// replica's ID with an expiry, taken or renewed at each evaluation tick; when the holder stops it
// lets go, when it dies the key expires and the next replica to tick takes over. A new holder sends
// what it has not delivered itself (the engine's notification state is what each replica delivered),
// and the resolutions of alerts the old holder may have sent as firing: the old holder's last
// deliveries may have failed, or arrived, so a takeover may repeat a message, never lose one.
import { randomUUID } from 'node:crypto';
import { logConnectionErrors, Redis, reconnectDelayMs } from '../startup/ioredis.ts';
import type { Logger } from 'pino';

export interface NotifyLease {
  /** Takes or renews the lease; resolves whether this replica notifies now. Never rejects. */
  renew(): Promise<boolean>;
  /** The answer of the last renew (for notifications between ticks, e.g. a rule deleted). */
  held(): boolean;
  /** Lets go of the lease (another replica takes over at its next tick) and disconnects. Safe twice. */
  close(): Promise<void>;
}

/** One replica, no Redis: it always notifies. */
export function soleReplicaLease(): NotifyLease {
  return { renew: () => Promise.resolve(true), held: () => true, close: () => Promise.resolve() };
}

// Set the key to our ID when it is free or already ours, with a fresh expiry; 1 when we hold it.
const TAKE_OR_RENEW = `local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface RedisLeaseOptions {
  url: string;
  logger: Logger;
  /** How long the lease outlives its last renewal: a dead holder's replacement waits this long. */
  ttlMs: number;
  key?: string;
  /** Milliseconds now; injectable for tests of the Redis-down path. */
  now?: () => number;
}

export function redisNotifyLease(opts: RedisLeaseOptions): NotifyLease & { replicaId: string } {
  const key = opts.key ?? 'teleql:alerting:notifier';
  const now = opts.now ?? Date.now;
  const replicaId = randomUUID();
  const redis = new Redis(opts.url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5000, enableOfflineQueue: false, retryStrategy: reconnectDelayMs });
  logConnectionErrors(redis, opts.logger, {}, 'redis connection error (alerting lease)');
  let connecting: Promise<void> | undefined;
  let held = false;
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

  return {
    replicaId,
    async renew() {
      if (closed) return (held = false);
      try {
        await connected();
        const r = await redis.eval(TAKE_OR_RENEW, 1, key, replicaId, String(opts.ttlMs));
        lastAnswer = now();
        if ((r === 1) !== held) opts.logger.info({ replica: replicaId }, r === 1 ? 'this replica now sends alert notifications' : 'another replica sends alert notifications');
        held = r === 1;
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
      if (held && redis.status === 'ready') await redis.eval(RELEASE, 1, key, replicaId).catch(() => undefined);
      held = false;
      redis.disconnect();
    },
  };
}

// ioredis, loaded on the first connection made: importing it costs ~90 ms of start-up, and only a
// config with a Redis URL (tail.redis.url, alerting's notify lease) ever connects. Used exactly
// like ioredis' own class: `new Redis(url, options)`.
import { createRequire } from 'node:module';
import type * as IORedis from 'ioredis';

const require = createRequire(import.meta.url);

export type Redis = IORedis.Redis;

// A constructor returning an object makes `new` yield that object: the real ioredis client.
export const Redis = function (url: string, options: IORedis.RedisOptions): IORedis.Redis {
  const { Redis: Client } = require('ioredis') as typeof IORedis;
  return new Client(url, options);
} as unknown as new (url: string, options: IORedis.RedisOptions) => IORedis.Redis;

/**
 * The reconnect schedule of teleql's Redis connections: ioredis 6 backs off up to 5 s between
 * attempts, and while a connection is down tails miss other replicas' records and every replica
 * notifies, so each tries at least every second once Redis is gone (a refused connect costs
 * nothing). Jitter keeps replicas from reconnecting in step.
 */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(2 ** Math.min(attempt - 1, 10) * 50, 1000) + Math.floor(Math.random() * 100);
}

/**
 * Logs a connection's errors as warnings once per outage, the repeats at debug until it is ready
 * again: a reconnect every second would otherwise write a warning a second per connection for as
 * long as Redis is gone (the outage itself is reported where it matters: tails, the lease).
 */
export function logConnectionErrors(conn: IORedis.Redis, log: { warn(obj: object, msg: string): void; debug(obj: object, msg: string): void }, fields: object, msg: string): void {
  let down = false;
  conn.on('error', (err: Error) => {
    if (down) log.debug({ err: err.message, ...fields }, msg);
    else log.warn({ err: err.message, ...fields }, msg);
    down = true;
  });
  conn.on('ready', () => {
    down = false;
  });
}

/** A Redis URL fit for a log line or an error: no user, password or query (ioredis reads `?password=` too). */
export function redisUrlForDisplay(url: string): string {
  try {
    const u = new URL(url);
    if (u.protocol === 'redis:' || u.protocol === 'rediss:') return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    // Not a URL: shown without what could be credentials.
  }
  return url.replace(/^(.*\/\/)?.*@/, '$1…@').replace(/\?.*$/, '');
}

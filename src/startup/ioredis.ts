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

// The notifier lease outlives a slow evaluation tick. Two real gateways share a real redis-server;
// each runs a PROMQL rule on its own Prometheus stand-in (a local HTTP server), and the holder's
// stand-in holds its answer for several lease periods. QA: the lease was renewed only at each tick,
// so it expired during such a tick, the other replica took it, and both sent notifications.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildApp, type App } from '../../src/app.ts';
import { silentLogger } from '../../src/logger.ts';
import { testConfig } from '../helpers/gateway.ts';
import { redisMissing, startRedis, type TestRedis } from '../helpers/redis-server.ts';
import { waitFor } from '../helpers/wait-for.ts';

const MIN = 60_000_000_000n;
const SEC = 1_000_000_000n;
const T0 = ((BigInt(Date.now()) * 1_000_000n) / MIN) * MIN - 60n * MIN;
const LEASE_MS = 1000;

interface PromStandIn {
  url: string;
  /** Instant queries received so far. */
  queries: number;
  /** While set, instant queries wait for it. */
  gate: Promise<void> | undefined;
  close(): Promise<void>;
}

/** Answers the parse check at once and every instant query with an empty vector, once `gate` lets it. */
async function startPromStandIn(): Promise<PromStandIn> {
  const self: PromStandIn = { url: '', queries: 0, gate: undefined, close: () => Promise.resolve() };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const json = (data: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data }));
      const path = (req.url ?? '').split('?')[0];
      if (path === '/api/v1/query') {
        self.queries++;
        void (self.gate ?? Promise.resolve()).then(() => json({ resultType: 'vector', result: [] }));
      } else if (path === '/api/v1/format_query') json('up');
      else json({});
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  self.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  self.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return self;
}

interface Replica {
  app: App;
  metricsUrl: string;
  clock: { t: bigint; now(): bigint };
}

async function startReplica(redisUrl: string, rulesFile: string, prometheusUrl: string): Promise<Replica> {
  const clock = { t: T0, now: () => clock.t };
  const cfg = testConfig({
    tail: { redis: { url: redisUrl } },
    alerting: {
      tickMs: 0,
      leaseMs: LEASE_MS,
      rulesFile,
      prometheusUrl,
      receivers: [{ name: 'ops', type: 'webhook', url: 'http://127.0.0.1:9/hook' }],
      // The stand-in's answer is held for seconds: the query must not time out first.
      retry: { attempts: 1, initialBackoffMs: 20, maxBackoffMs: 50, timeoutMs: 30_000 },
    },
  });
  const app = buildApp(cfg, { logger: silentLogger(), clock });
  await app.start();
  return { app, metricsUrl: `http://${app.addresses().graphql}/metrics`, clock };
}

async function notifier(r: Replica): Promise<number> {
  const text = await (await fetch(r.metricsUrl)).text();
  return Number(/^teleql_alerting_notifier (\d)$/m.exec(text)?.[1]);
}

describe('the notifier lease during a slow evaluation tick', { skip: redisMissing }, () => {
  let redis: TestRedis;
  let dir: string;
  let promA: PromStandIn;
  let promB: PromStandIn;
  let a: Replica;
  let b: Replica;

  before(async () => {
    [redis, promA, promB] = await Promise.all([startRedis(), startPromStandIn(), startPromStandIn()]);
    dir = await mkdtemp(join(tmpdir(), 'teleql-lease-slow-'));
    const rulesFile = join(dir, 'rules.yaml');
    await writeFile(rulesFile, 'rules:\n  - name: Up\n    tenant: acme\n    kind: PROMQL\n    expr: up\n    threshold: 0\n    comparator: GT\n    interval: 1m\n');
    a = await startReplica(redis.url, rulesFile, promA.url);
    b = await startReplica(redis.url, rulesFile, promB.url);
  });
  after(async () => {
    promA.gate = undefined;
    await a?.app.stop();
    await b?.app.stop();
    await Promise.all([redis?.stop(), promA?.close(), promB?.close()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the holder keeps the lease through a tick far longer than the lease; the other takes it when the holder stops', async () => {
    let release!: () => void;
    promA.gate = new Promise<void>((resolve) => (release = resolve));
    const engineA = a.app.internals.alerting()!;
    const engineB = b.app.internals.alerting()!;
    // a ticks first: it takes the lease, then its evaluation waits on its Prometheus.
    const slowTick = engineA.tick();
    await waitFor(() => Promise.resolve(promA.queries), (n) => n === 1, 'a waiting on its Prometheus');
    assert.equal(await notifier(a), 1);

    // Four lease periods while a's tick is stuck; b ticks all along and must never take the lease.
    const until = Date.now() + 4 * LEASE_MS;
    for (let t = T0; Date.now() < until; t += 10n * SEC) {
      b.clock.t = t;
      await engineB.tick();
      assert.equal(await notifier(b), 0, `b took the lease ${until - Date.now()} ms before the end of a's tick`);
      await sleep(200);
    }
    release();
    await slowTick;
    assert.equal(await notifier(a), 1, 'a still holds it after its slow tick');

    // a stops (letting go of the lease): b's next tick takes it.
    await a.app.stop();
    b.clock.t += 10n * SEC;
    await engineB.tick();
    assert.equal(await notifier(b), 1);
  });
});

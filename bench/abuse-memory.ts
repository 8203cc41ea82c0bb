// What a client can make the gateway hold: each attack sends requests built to be as costly to
// keep as possible, then the heap is read after a forced GC, against the same gateway's heap before
// it. Attacks:
// - invalid-documents: distinct 4 KB GraphQL documents with 600 unknown fields (101 errors each);
// - repeated-fields: distinct 18 KB documents repeating one field 1,990 times (validation aborted);
// - syntax-errors: distinct 11 KB documents cut off before their end;
// - large-resources: OTLP spans each with a distinct resource carrying a 1 MB attribute;
// - tail-documents: distinct tailSpans documents (20 fields), each subscribed over graphql-ws and
//   stopped: what graphql-jit compiles for each (~300 times its text) is kept in a bounded cache;
// - baseline: distinct small valid documents.
// Usage: npm run bench:abuse-memory [-- --requests N] [-- --only name,name]
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { startGateway, type TestGateway } from '../test/helpers/gateway.ts';
import { spansJson } from '../test/helpers/otlp-bodies.ts';
import { subscriptions, tail, wsClient } from '../test/helpers/tail-client.ts';
import type { Client } from 'graphql-ws';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '1100' }, only: { type: 'string', default: '' } } });
const requests = Number(values.requests);

v8.setFlagsFromString('--expose-gc');
// V8 keeps the code of every `new Function` source (graphql-jit's compiled forms) in its eval cache
// and ages it out over natural GCs, which forced ones do not advance: without it, the heap after
// gc() is what the gateway keeps (session 31: +140 MB more for tail-documents, gone after a few
// seconds of ordinary allocation).
v8.setFlagsFromString('--no-compilation-cache');
const gc = vm.runInNewContext('gc') as () => void;
const heapMb = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1e6;
};

const graphql = (gw: TestGateway, query: string) =>
  fetch(gw.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) }).then((r) => r.text());

const tailClients = new WeakMap<TestGateway, Client>();
const TAIL_FIELDS = 'dropped replayed span { traceId spanId parentSpanId name kind startTime endTime durationNano status { code message } attributes service scope { name version } resource { serviceName attributes } }';

const ATTACKS: Record<string, { unit: string; send(gw: TestGateway, i: number): Promise<unknown> }> = {
  baseline: { unit: 'small valid documents', send: (gw, i) => graphql(gw, `{ services s${i}: services }`) },
  'invalid-documents': {
    unit: '4 KB documents, 101 errors each',
    send: (gw, i) => graphql(gw, `{ ${Array.from({ length: 600 }, (_, j) => `f${i}_${j}`).join(' ')} }`),
  },
  'repeated-fields': {
    unit: '18 KB documents, one field 1,990 times',
    send: (gw, i) => graphql(gw, `{ ${'services '.repeat(1990)} s${i}: services }`),
  },
  'syntax-errors': {
    unit: '11 KB documents cut short',
    send: (gw, i) => graphql(gw, `{ ${Array.from({ length: 1500 }, (_, j) => `f${i}_${j}`).join(' ')} `),
  },
  'large-resources': {
    unit: 'spans with a distinct 1 MB resource attribute',
    async send(gw, i) {
      const body = spansJson([{ service: `big-${i}`, name: 'op' }]) as { resourceSpans: { resource: { attributes: unknown[] } }[] };
      body.resourceSpans[0]!.resource.attributes.push({ key: 'blob', value: { stringValue: String(i).padEnd(1_000_000, 'x') } });
      const res = await fetch(`${gw.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`OTLP answered ${res.status}`);
    },
  },
  'tail-documents': {
    unit: 'distinct 260-character tailSpans documents, subscribed and stopped',
    async send(gw, i) {
      let client = tailClients.get(gw);
      if (!client) tailClients.set(gw, (client = wsClient(gw, 'abuse')));
      const t = tail(client, `subscription { tailSpans(filter: { service: ["svc-${i}"] }) { ${TAIL_FIELDS} } }`);
      await subscriptions(gw, 1);
      t.stop();
      await subscriptions(gw, 0);
    },
  },
};

const chosen = values.only ? values.only.split(',') : Object.keys(ATTACKS);
console.log(`abuse-memory: ${requests} requests per attack, a fresh gateway each; heap after a forced GC (Node ${process.version})`);
console.log('| attack | what | heap before MB | after MB | growth MB | per request KB |');
console.log('| --- | --- | ---: | ---: | ---: | ---: |');
for (const name of chosen) {
  const attack = ATTACKS[name];
  if (!attack) throw new Error(`unknown attack ${name} (known: ${Object.keys(ATTACKS).join(', ')})`);
  const gw = await startGateway();
  try {
    await graphql(gw, '{ services }');
    const before = heapMb();
    for (let i = 0; i < requests; i++) await attack.send(gw, i);
    await new Promise((r) => setTimeout(r, 1000)); // the batch processor writes what it holds
    const after = heapMb();
    const growth = after - before;
    console.log(`| ${name} | ${attack.unit} | ${before.toFixed(1)} | ${after.toFixed(1)} | ${growth.toFixed(1)} | ${((growth * 1000) / requests).toFixed(1)} |`);
  } finally {
    await tailClients.get(gw)?.dispose();
    await gw.stop();
  }
}

// npm run bench:redaction — CPU per span through the redaction processor (processors.redaction, all
// rules), by what the spans carry: ordinary spans (nine short attributes, as bench:ingest's), and
// spans carrying one LLM prompt of 1 KB or 15 KB (prose, code, or JSON chat messages as
// gen_ai.input.messages holds them). The baseline, in the same run: the same spans through the
// processor with no rule on (walking every value, masking nothing). Also each rule alone on the 15 KB
// prose. Run it pinned: `taskset -c 1`. Options: --spans N (per case, default 2000), --rounds N (5).
import { createRedactionProcessor, defaultRedactionProcessorConfig, type RedactionProcessorConfig } from '../ingest/processors/redaction/redaction-processor.ts';
import { RULES } from '../ingest/processors/redaction/rules.ts';
import type { Consumer } from '../ingest/component.ts';
import type { KeyValue, SpanRecord } from '../src/model/telemetry.ts';
import { silentLogger } from '../src/logger.ts';
import { benchSpan } from './otlp-requests.ts';
import { arg, fmt, machine } from './lib.ts';

const SPANS = arg('spans', 2000);
const ROUNDS = arg('rounds', 5);

// Deterministic text, so every run scans the same characters.
let seed = 1;
const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
const WORDS = 'the a model user asked for summary of error in function while reading file config value returns list of items because request timed out after retry please explain why code fails'.split(' ');
function prose(chars: number): string {
  let s = '';
  while (s.length < chars) s += WORDS[rnd(WORDS.length)] + (rnd(12) === 0 ? '. ' : ' ');
  return s.slice(0, chars);
}
function code(chars: number): string {
  let s = '';
  for (let i = 0; s.length < chars; i++) s += `  const item${i} = await load(config.items[${i}], { retries: ${rnd(5)}, timeoutMs: ${rnd(9000)} });\n`;
  return s.slice(0, chars);
}
function chatMessages(chars: number): string {
  const messages: { role: string; content: string }[] = [];
  while (JSON.stringify(messages).length < chars) messages.push({ role: messages.length % 2 ? 'assistant' : 'user', content: prose(400 + rnd(800)) });
  return JSON.stringify(messages);
}

const resource = { attributes: [{ key: 'service.name', value: { stringValue: 'agent' } }], droppedAttributesCount: 0, schemaUrl: '' };
const scope = { name: 'bench-redaction', version: '1', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };
const ordinary: KeyValue[] = [
  ['http.request.method', 'POST'],
  ['http.route', '/api/orders/{id}'],
  ['url.full', 'https://shop.example.com/api/orders/8812?expand=items'],
  ['user.id', 'user-4411'],
  ['user.tier', 'gold'],
  ['db.system', 'postgresql'],
  ['net.peer.name', 'orders-db.internal'],
  ['http.response.status_code', '200'],
  ['app.note', 'order accepted for delivery on monday'],
].map(([key, value]) => ({ key: key!, value: { stringValue: value! } }));

function spans(extra: (i: number) => KeyValue[]): SpanRecord[] {
  return Array.from({ length: SPANS }, (_, i) =>
    benchSpan({ resource, scope, traceId: (i + 1).toString(16).padStart(32, '0'), spanId: (i + 1).toString(16).padStart(16, '0'), parentSpanId: '', name: 'chat', startTimeUnixNano: 1n, endTimeUnixNano: 2n, attributes: [...ordinary, ...extra(i)] }),
  );
}
/** Distinct prompts per span (no cache can help), made once before timing. */
const prompts = (make: (chars: number) => string, chars: number) => {
  const texts = Array.from({ length: SPANS }, () => make(chars));
  return (i: number): KeyValue[] => [{ key: 'gen_ai.input.messages', value: { stringValue: texts[i]! } }];
};

const cases: [string, SpanRecord[], number][] = [
  ['ordinary spans (9 short attributes)', spans(() => []), 0],
  ['+ 1 KB prose prompt', spans(prompts(prose, 1_000)), 1_000],
  ['+ 15 KB prose prompt', spans(prompts(prose, 15_000)), 15_000],
  ['+ 15 KB code', spans(prompts(code, 15_000)), 15_000],
  ['+ 15 KB JSON chat messages', spans(prompts(chatMessages, 15_000)), 15_000],
];

const sink: Consumer<'traces'> = { consume: () => Promise.resolve() };
/** CPU µs per span of `batch` through a redaction processor with `rules`, best of the rounds. */
async function perSpan(rules: string[], batch: SpanRecord[]): Promise<number> {
  const config: RedactionProcessorConfig = { ...defaultRedactionProcessorConfig(), rules };
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    // A new processor each round: its cache of clean short strings starts empty, as after a restart.
    const p = createRedactionProcessor('redaction/traces', config, 'traces', sink, silentLogger());
    const start = process.cpuUsage();
    for (let i = 0; i < batch.length; i += 500) await p.consume(batch.slice(i, i + 500));
    const { user, system } = process.cpuUsage(start);
    best = Math.min(best, (user + system) / batch.length);
  }
  return best;
}

console.log(`machine: ${machine()}`);
await perSpan([...RULES], cases[0]![1]); // warm-up: the first case is not timed cold
console.log(`${SPANS} spans per case, best of ${ROUNDS} rounds, CPU µs per span\n`);
console.log(`${'spans'.padEnd(40)} ${'no rule (baseline)'.padStart(20)} ${'all rules'.padStart(12)} ${'× baseline'.padStart(12)} ${'ns per prompt char'.padStart(20)}`);
for (const [label, batch, chars] of cases) {
  const base = await perSpan([], batch);
  const all = await perSpan([...RULES], batch);
  const perChar = chars ? fmt(((all - base) * 1000) / chars, 1) : '';
  console.log(`${label.padEnd(40)} ${fmt(base, 1).padStart(20)} ${fmt(all, 1).padStart(12)} ${fmt(all / base, 2).padStart(12)} ${perChar.padStart(20)}`);
}
console.log('\neach rule alone, µs per span over the baseline:');
console.log(`  ${'rule'.padEnd(18)}${cases.slice(2).map(([label]) => label.slice(2).padStart(28)).join('')}`);
const bases: number[] = [];
for (const [, batch] of cases.slice(2)) bases.push(await perSpan([], batch));
for (const rule of RULES) {
  const cells: string[] = [];
  for (const [k, [, batch]] of cases.slice(2).entries()) cells.push(fmt((await perSpan([rule], batch)) - bases[k]!, 1).padStart(28));
  console.log(`  ${rule.padEnd(18)}${cells.join('')}`);
}

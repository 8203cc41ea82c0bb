// The attribute limits processor: truncate-and-count per the OTel spec, or refuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLimitsProcessor, defaultLimitsProcessorConfig } from '../../../ingest/processors/limits/limits-processor.ts';
import { isPermanent } from '../../../ingest/component.ts';
import { sinkConsumer } from '../../helpers/sink-consumer.ts';
import { attrs, log, resource, span } from '../../helpers/telemetry-builders.ts';
import { silentLogger } from '../../../src/logger.ts';

const config = { ...defaultLimitsProcessorConfig(), maxAttributes: 3, maxValueLength: 5, maxArrayLength: 2, maxDepth: 2 };

test('truncate: extra attributes dropped and counted, strings and arrays cut, deep values dropped', async () => {
  const sink = sinkConsumer<'traces'>();
  const p = createLimitsProcessor('limits/traces', config, 'traces', sink, silentLogger());
  const deep = { kvlistValue: { values: [{ key: 'l1', value: { arrayValue: { values: [{ arrayValue: { values: [{ stringValue: 'x' }] } }] } } }] } };
  await p.consume([
    span({
      attributes: attrs({ a: 'abcdefgh', b: { arrayValue: { values: [{ stringValue: '1234567' }, { stringValue: 'b' }, { stringValue: 'c' }] } }, c: deep, d: 'dropped', e: 'dropped' }),
      droppedAttributesCount: 1,
    }),
  ]);
  const got = sink.all()[0]!;
  assert.deepEqual(got.attributes.map((kv) => kv.key), ['a', 'b', 'c']);
  assert.deepEqual(got.attributes[0]!.value, { stringValue: 'abcde' });
  assert.deepEqual(got.attributes[1]!.value, { arrayValue: { values: [{ stringValue: '12345' }, { stringValue: 'b' }] } });
  assert.deepEqual(got.attributes[2]!.value, { kvlistValue: { values: [{ key: 'l1', value: { arrayValue: { values: [] } } }] } }, 'the level beyond maxDepth is dropped');
  assert.equal(got.droppedAttributesCount, 1 + 2);
  // 3 here plus the resource's service.name: resources are limited too.
  assert.deepEqual(p.stats(), { droppedAttributes: 2, truncatedValues: 4, refusedBatches: 0 });
  assert.equal((got.resource.attributes[0]!.value as { stringValue: string }).stringValue.length, 5);

  const logs = sinkConsumer<'logs'>();
  const lp = createLimitsProcessor('limits/logs', config, 'logs', logs, silentLogger());
  await lp.consume([log({ body: { stringValue: 'a very long body' } })]);
  assert.deepEqual(logs.all()[0]!.body, { stringValue: 'a ver' });
});

test('truncate: a cut inside a redaction marker moves before the marker, never leaving part of one', async () => {
  const sink = sinkConsumer<'logs'>();
  const p = createLimitsProcessor('limits/logs', { ...config, maxAttributes: 0, maxValueLength: 20 }, 'logs', sink, silentLogger());
  const values = {
    inside: 'card <redacted:creditCard> today', // cut at 20 inside the marker
    atAngle: 'abcdefghijklmnopqrs<redacted:email>', // cut right after its '<'
    onClose: 'user <redacted:email> left', // the marker's '>' is character 21
    whole: 'usr <redacted:email> left', // the marker ends at 20: kept
    text: 'a <b> c <d> e <f> g <h> i', // angle brackets that are not markers
    list: { arrayValue: { values: [{ stringValue: 'x <redacted:sensitiveKey>' }] } },
  };
  await p.consume([log({ resource: resource('svc'), attributes: attrs(values) })]);
  assert.deepEqual(Object.fromEntries(sink.all()[0]!.attributes.map((kv) => [kv.key, kv.value])), {
    inside: { stringValue: 'card ' },
    atAngle: { stringValue: 'abcdefghijklmnopqrs' },
    onClose: { stringValue: 'user ' },
    whole: { stringValue: 'usr <redacted:email>' },
    text: { stringValue: 'a <b> c <d> e <f> g ' },
    list: { arrayValue: { values: [{ stringValue: 'x ' }] } },
  });
});

test('truncate: a cut never splits a character made of a surrogate pair', async () => {
  const sink = sinkConsumer<'logs'>();
  const p = createLimitsProcessor('limits/logs', { ...config, maxAttributes: 0, maxValueLength: 5 }, 'logs', sink, silentLogger());
  // '😀' is two UTF-16 units: at 5 units the cut would fall between them.
  await p.consume([log({ resource: resource('svc'), attributes: attrs({ split: 'abcd😀e', whole: 'abc😀e' }) })]);
  const got = Object.fromEntries(sink.all()[0]!.attributes.map((kv) => [kv.key, (kv.value as { stringValue: string }).stringValue]));
  assert.deepEqual(got, { split: 'abcd', whole: 'abc😀' });
  // No lone surrogate left: the values survive UTF-8 unchanged.
  for (const v of Object.values(got)) assert.equal(Buffer.from(v, 'utf8').toString('utf8'), v);
});

test('refuse: the batch is refused with a permanent error naming the limit and the value', async () => {
  const sink = sinkConsumer<'traces'>();
  const p = createLimitsProcessor('limits/traces', { ...config, action: 'refuse' }, 'traces', sink, silentLogger());
  await p.consume([span({ attributes: attrs({ a: 'ok' }) })]);
  await assert.rejects(p.consume([span({ attributes: attrs({ a: 'abcdefgh' }) })]), (err: Error) => {
    assert.ok(isPermanent(err));
    assert.match(err.message, /a string value of 8 characters exceeds maxValueLength of 5/);
    return true;
  });
  assert.equal(sink.count(), 1);
});

test('bad settings are refused at start-up', () => {
  assert.throws(() => createLimitsProcessor('limits/logs', { ...config, maxDepth: -1 }, 'logs', sinkConsumer<'logs'>(), silentLogger()), /maxDepth: expected an integer of 0 or more/);
});

// Over real sockets: a live tail whose regexes together pass MAX_FILTER_STATES is refused at
// subscribe with GW_BAD_FILTER naming the bound (an `or` of 100 patterns at the per-pattern bound held
// the loop ~7 s on one span), and huge variables are refused by count before coercion (bigquery QA D3, D4).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { gql } from '../helpers/graphql-client.ts';
import { tail, wsClient } from '../helpers/tail-client.ts';
import { MAX_FILTER_STATES } from '../../src/stores/filter-match.ts';
import { MAX_INPUT_VALUES } from '../../src/server/input-depth.ts';

const TAIL = 'subscription($f: TelemetryFilter) { tailSpans(filter: $f) { span { name } } }';
/** `n` patterns of 121 states each (`.*[ac]{0,55}.*X`), within one pattern's bound of 128. */
const regexes = (n: number) => ({ or: Array.from({ length: n }, (_, i) => ({ attributes: [{ key: 'payload', regex: `.*[ac]{0,55}.*${String.fromCharCode(98 + i)}` }] })) });

describe('the work one filter or one request may ask for', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway();
  });
  after(() => gw.stop());

  test('a tail whose regexes together pass MAX_FILTER_STATES is refused at subscribe with GW_BAD_FILTER', async () => {
    const client = wsClient(gw, 'bounds');
    try {
      const refused = tail(client, TAIL, { f: regexes(3) });
      await refused.done;
      assert.equal(refused.errors[0]?.extensions?.['code'], 'GW_BAD_FILTER', JSON.stringify(refused.errors));
      assert.match(refused.errors[0]!.message, new RegExp(`at most ${MAX_FILTER_STATES}`));
      const fits = tail(client, TAIL, { f: regexes(2) });
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(fits.errors, []);
      fits.stop();
    } finally {
      await client.dispose();
    }
  });

  test('variables of more than MAX_INPUT_VALUES values are refused with GW_QUERY_TOO_LARGE before a resolver counts them', async () => {
    const service = Array.from({ length: MAX_INPUT_VALUES + 1 }, (_, i) => `s${i}`);
    const spans = await gql(gw.graphqlUrl, 'query($f: TelemetryFilter) { spans(filter: $f) { nodes { name } } }', { f: { service } });
    assert.equal(spans.status, 400);
    assert.equal(spans.errors?.[0]?.extensions?.['code'], 'GW_QUERY_TOO_LARGE', JSON.stringify(spans.errors).slice(0, 300));
    assert.match(spans.errors![0]!.message, new RegExp(`by variable \\$f; an operation's variables may hold at most ${MAX_INPUT_VALUES}`));
    const labels = Object.fromEntries(service.map((s) => [s, 'v']));
    const series = await gql(gw.graphqlUrl, 'query($l: JSON) { metricSeries(name: "m", labels: $l, from: "now-1h", to: "now") { points { value } } }', { l: labels });
    assert.equal(series.errors?.[0]?.extensions?.['code'], 'GW_QUERY_TOO_LARGE', JSON.stringify(series.errors).slice(0, 300));
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { basicAuthOf, endpointWithoutCredentials, withoutCredentials } from '../../src/url-credentials.ts';

test('URLs in error texts are shown without credentials', () => {
  assert.equal(
    withoutCredentials('Request cannot be constructed from a URL that includes credentials: http://qauser:s3cret@127.0.0.1:4653/ok?cred=1&token=abc&x=2'),
    'Request cannot be constructed from a URL that includes credentials: http://***@127.0.0.1:4653/ok?cred=1&token=***&x=2',
  );
  assert.equal(withoutCredentials('connect ECONNREFUSED 127.0.0.1:9093'), 'connect ECONNREFUSED 127.0.0.1:9093');
});

test('endpoints are shown without the user and password a URL carries', () => {
  assert.equal(endpointWithoutCredentials('http://esuser:es-pass-123@127.0.0.1:9200'), 'http://127.0.0.1:9200/');
  assert.equal(endpointWithoutCredentials('https://:token@prom:9090/api/v1/write'), 'https://prom:9090/api/v1/write');
  assert.equal(endpointWithoutCredentials('http://jaeger:4318'), 'http://jaeger:4318');
  assert.equal(endpointWithoutCredentials('/var/lib/teleql/store.duckdb'), '/var/lib/teleql/store.duckdb');
});

test("a URL's user info becomes Basic auth, percent-escapes decoded", () => {
  const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  assert.equal(basicAuthOf('http://jaeger:16686/prefix'), null);
  assert.deepEqual(basicAuthOf('http://qa%40user:s3cr%3Aet@am:9093/api?x=1'), { url: 'http://am:9093/api?x=1', authorization: basic('qa@user', 's3cr:et') });
  assert.deepEqual(basicAuthOf('https://:token@prom:9090'), { url: 'https://prom:9090/', authorization: basic('', 'token') });
  // A % that starts no escape is part of the password (the Jaeger client threw a URIError on it).
  assert.deepEqual(basicAuthOf('http://u:50%zz@jaeger:16686'), { url: 'http://jaeger:16686/', authorization: basic('u', '50%zz') });
  assert.throws(() => basicAuthOf('not a url'));
});

// Every code a client can get is documented where a client author looks: README lists what
// src/errors.ts lists (as Fastify's errors test checks its docs).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { AlertingErrorReasons, ErrorCodes, ProtocolErrorCodes } from '../../src/errors.ts';

test('README names every error code and alerting reason of src/errors.ts', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const missing = [...Object.keys(ErrorCodes), ...Object.keys(ProtocolErrorCodes), ...Object.keys(AlertingErrorReasons)].filter(
    (code) => !readme.includes(`\`${code}\``),
  );
  assert.deepEqual(missing, []);
});

// The JWKS key set as its file rotates: keys without a kid, and the principals of a removed key
// revoked whatever order readings and tokens come in (driven step by step, no timing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as jose from 'jose';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuthenticator } from '../../../src/auth/authenticator.ts';
import { readJwks, rotatingKeySet } from '../../../src/auth/jwt.ts';
import { nodeHeaders } from '../../../src/auth/types.ts';
import { defaultAuthConfig } from '../../../src/config/security.ts';
import { silentLogger } from '../../../src/logger.ts';
import { waitFor } from '../../helpers/wait-for.ts';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

/** A JWKS file in a temporary directory, rewritten as a sync job does (beside it, then renamed over). */
async function withJwksFile(run: (file: string, publish: (...keys: [KeyPair, string | undefined][]) => Promise<void>) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'teleql-jwks-rotation-'));
  const file = join(dir, 'jwks.json');
  const publish = async (...keys: [KeyPair, string | undefined][]) => {
    const jwks = await Promise.all(keys.map(async ([k, kid]) => ({ ...(await exportJWK(k.publicKey)), ...(kid !== undefined && { kid }), use: 'sig' })));
    writeFileSync(`${file}.tmp`, JSON.stringify({ keys: jwks }));
    renameSync(`${file}.tmp`, file);
  };
  try {
    await run(file, publish);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const token = (key: KeyPair, alg: string, kid?: string) =>
  new SignJWT({ tenant: 'rotating', scope: 'query' }).setProtectedHeader({ alg, ...(kid !== undefined && { kid }) }).setExpirationTime('1h').sign(key.privateKey);

test('JWKS keys without a kid: while a rotation publishes the old key beside the new one tokens of both verify, and removing the old one revokes every principal it verified', async () => {
  // Found by the review of QA round 32: with two kid-less keys of one type jose found "multiple
  // matching keys" and every token was refused until the old key was removed.
  await withJwksFile(async (file, publish) => {
    const [a, b] = await Promise.all([generateKeyPair('RS256'), generateKeyPair('RS256')]);
    await publish([a, undefined]);
    const auth = createAuthenticator({ ...defaultAuthConfig(), mode: 'jwt', jwt: { ...defaultAuthConfig().jwt, jwksFile: file } }, silentLogger());
    const [byA, byB] = await Promise.all([token(a, 'RS256'), token(b, 'RS256')]);
    const admit = (t: string) => auth.admit(nodeHeaders({ authorization: `Bearer ${t}` }), 'x-scope-orgid', 'query');
    const refusal = (t: string) => admit(t).then(() => 'admitted', (e: { reason?: string }) => e.reason);

    const beforeRotation = await admit(byA);
    await publish([a, undefined], [b, undefined]);
    auth.reloadJwks();
    // A then B then A: each key's principals are its own, whichever verified last.
    const duringA = await admit(byA);
    const duringB = await admit(byB);
    const duringA2 = await admit(byA);
    assert.deepEqual([duringA.tenant, duringB.tenant, duringA2.tenant], ['rotating', 'rotating', 'rotating']);

    await publish([b, undefined]);
    auth.reloadJwks();
    await waitFor(async () => [beforeRotation, duringA, duringA2].map((p) => p.revoked!.aborted), (all) => all.every(Boolean), "key a's principals revoked");
    assert.equal(duringB.revoked!.aborted, false, "key b's principal stays");
    assert.equal(await refusal(byA), 'jwt: signature verification failed');
    assert.equal((await admit(byB)).tenant, 'rotating');
  });
});

/**
 * jose whose key sets (one per reading of the file, the one read at start numbered 0) can hold their
 * next look-up of a key until the test releases it, so that readings and tokens interleave in an
 * order the test chooses.
 */
function holdingJose() {
  const holds = new Map<number, { reached: () => void; released: Promise<void> }>();
  let readings = 0;
  const holding: typeof jose = {
    ...jose,
    createLocalJWKSet: (jwks) => {
      const set = jose.createLocalJWKSet(jwks);
      const reading = readings++;
      return Object.assign(async (...args: Parameters<typeof set>) => {
        const hold = holds.get(reading);
        if (hold) {
          holds.delete(reading);
          hold.reached();
          await hold.released;
        }
        return set(...args);
      }, { jwks: set.jwks });
    },
  };
  return {
    jose: holding,
    /** Holds the next look-up in the set of reading `reading`: `reached` once it waits, `release` to let it go on. */
    hold(reading: number) {
      let reached!: () => void;
      let release!: () => void;
      const arrived = new Promise<void>((resolve) => (reached = resolve));
      holds.set(reading, { reached, released: new Promise<void>((resolve) => (release = resolve)) });
      return { reached: arrived, release };
    },
  };
}

const ES256 = { algorithms: ['ES256'] };
/** Every microtask queued so far, and the ones they queue, have run. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

test('a key replaced under its kid has its principals revoked even when a token of the new key is verified before the reading has looked at the old one', async () => {
  // Found by the review of QA round 32: the new key's entry took the old one's place (both are
  // ES256 "k1"), and the reading, finding its entry replaced, revoked nothing: the old key's tails
  // stayed open.
  await withJwksFile(async (file, publish) => {
    const [old, replacement] = await Promise.all([generateKeyPair('ES256'), generateKeyPair('ES256')]);
    await publish([old, 'k1']);
    const { jose: holding, hold } = holdingJose();
    const keys = rotatingKeySet(file, readJwks(file), holding, silentLogger());
    const byOld = await keys.verify(await token(old, 'ES256', 'k1'), ES256);

    await publish([replacement, 'k1']);
    const revocationLooks = hold(1);
    assert.equal(keys.reread(true), true);
    await revocationLooks.reached; // the reading is about to look whether the old key is still there
    const byReplacement = await keys.verify(await token(replacement, 'ES256', 'k1'), ES256);
    revocationLooks.release();
    await settled();

    assert.equal(byOld.revoked.aborted, true, "the old key's principal is revoked");
    assert.equal(byReplacement.revoked.aborted, false, "the new key's principal stays");
    await assert.rejects(keys.verify(await token(old, 'ES256', 'k1'), ES256), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });
});

test('a token verified across two readings is verified again against the last one: the key a later reading removed is refused', async () => {
  // Found by the review of QA round 32: a token was verified again only once, so a second reading
  // that removed its key while it was verified again let it through with a principal never revoked.
  await withJwksFile(async (file, publish) => {
    const [leaked, other] = await Promise.all([generateKeyPair('ES256'), generateKeyPair('ES256')]);
    await publish([leaked, 'a']);
    const { jose: holding, hold } = holdingJose();
    const keys = rotatingKeySet(file, readJwks(file), holding, silentLogger());
    const firstLook = hold(0);
    const verifying = keys.verify(await token(leaked, 'ES256', 'a'), ES256);
    verifying.catch(() => undefined);
    await firstLook.reached;

    await publish([leaked, 'a'], [other, 'b']); // reading 1 still holds the key: the token is verified again against it
    assert.equal(keys.reread(true), true);
    const secondLook = hold(1);
    firstLook.release();
    await secondLook.reached;
    await publish([other, 'b']); // reading 2 removes it meanwhile
    assert.equal(keys.reread(true), true);
    secondLook.release();

    await assert.rejects(verifying, { code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });
});

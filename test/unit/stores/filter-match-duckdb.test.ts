// The in-memory matcher (live tails, alert-rule checks, the Jaeger post-filter) against a real
// DuckDB: regexes through DuckDB's RE2 (regexp_full_match, as filter-sql.ts runs them) and numbers
// through TRY_CAST(… AS DOUBLE) (as its gt/gte/lt/lte do). Found by filter QA (session 31): (?i)
// folded only one lower and one upper form (ς missed (?i)σ, K (U+212A) missed (?i)k, (?i)ı matched
// I), classes took an emoji as two characters (\S did not match 😀), and numbers were read after
// trimming Unicode spaces ("\u00a05" > 0) but "+-1" was not read as -1.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { silentLogger } from '../../../src/logger.ts';
import type { SpanRecord } from '../../../src/model/telemetry.ts';
import { openDuckDbStore } from '../../../src/stores/duckdb/index.ts';
import { compileRegex, compileSpanFilter, simpleLowerCase, toNumber } from '../../../src/stores/filter-match.ts';
import type { TelemetryFilter } from '../../../src/stores/types.ts';
import { attrs, span, spanId } from '../../helpers/telemetry-builders.ts';

let db: DuckDBInstance;
let con: DuckDBConnection;
before(async () => {
  db = await DuckDBInstance.create(':memory:', { threads: '1' });
  con = await db.connect();
});
after(() => {
  con.closeSync();
  db.closeSync();
});

/** Every (pattern, value) pair DuckDB's RE2 and compileRegex answer differently, as readable lines. */
async function regexDisagreements(patterns: readonly string[], values: readonly string[]): Promise<string[]> {
  await con.run('CREATE OR REPLACE TEMP TABLE vals(id INTEGER, v VARCHAR)');
  const appender = await con.createAppender('vals');
  values.forEach((v, id) => {
    appender.appendInteger(id);
    appender.appendVarchar(v);
    appender.endRow();
  });
  appender.closeSync();
  const out: string[] = [];
  const show = (s: string) => [...s].map((c) => (/[\x21-\x7e]/.test(c) ? c : `U+${c.codePointAt(0)!.toString(16).toUpperCase()}`)).join('');
  for (const pattern of patterns) {
    const rows = (await con.runAndReadAll('SELECT id, regexp_full_match(v, $1) FROM vals ORDER BY id', [pattern])).getRows();
    const re = compileRegex(pattern);
    for (const [id, duck] of rows) {
      const value = values[Number(id)]!;
      if (re.test(value) !== duck) out.push(`${show(pattern)} on ${show(value)}: DuckDB ${String(duck)}, matcher ${String(!duck)}`);
    }
  }
  return out;
}

// Letters whose case folding is not one lower and one upper form, and their neighbours.
const TRICKY = [
  'k', 'K', '\u212a', 's', 'S', '\u017f', 'σ', 'ς', 'Σ', 'ß', 'ẞ', 'µ', 'μ', 'Μ', 'å', 'Å', '\u212b', 'ω', 'Ω', '\u2126',
  'ǆ', 'ǅ', 'Ǆ', 'ι', '\u0345', 'Ι', '\u1fbe', 'i', 'I', 'ı', 'İ', 'é', 'É', 'θ', 'ϑ', 'ϴ', 'ᾳ', 'ᾼ', 'ΐ', '\u1fd3',
  'ﬅ', 'ﬆ', '\u1e9b', 'ṡ', 'Ṡ', 'ა', '\u1c90', 'Ꭰ', 'ꭰ', '𐐀', '𐐨', '𞤀', '𞤢', 'ƛ', '\ua7dc', 'a', 'z', '_', '1', '😀',
];

describe('(?i) folds case as DuckDB’s RE2 does', () => {
  it('agrees on tricky letters as literals, in classes and in negated classes', async () => {
    const patterns = TRICKY.flatMap((l) => [`(?i)${l}`, `(?i)[${l}]`, `(?i)[^${l}]`, `(?i)x${l}+`]);
    const values = [...TRICKY, ...TRICKY.map((l) => `x${l}${l}`)];
    assert.deepEqual(await regexDisagreements(patterns, values), []);
  });

  it('agrees on ranges, Perl and POSIX classes under (?i)', async () => {
    const patterns = ['(?i)[a-z]', '(?i)[^a-z]', '(?i)[A-Z]', '(?i)[α-ω]', '(?i)[Α-Ω]', '(?i)[à-ÿ]', '(?i)[\\x{10400}-\\x{10427}]', '(?i)\\w', '(?i)\\W', '(?i)[\\W]', '(?i)[[:lower:]]', '(?i)[[:^upper:]]', '(?i)[^[:alpha:]]', '(?i)[^\\w]', '(?i)[ſ-ſ]'];
    assert.deepEqual(await regexDisagreements(patterns, TRICKY), []);
  });

  it('agrees on every pair of letters V8 puts in one case-folding orbit', async () => {
    // Every cased letter with the letters V8's /iu (an oracle here only) folds it to, and its case mappings.
    const letters: string[] = [];
    for (let cp = 0x41; cp <= 0x1ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const ch = String.fromCodePoint(cp);
      if (ch.toLowerCase() !== ch || ch.toUpperCase() !== ch) letters.push(ch);
    }
    const mismatches: string[] = [];
    const batch = 400;
    for (let k = 0; k < letters.length; k += batch) {
      const some = letters.slice(k, k + batch);
      const patterns = some.map((l) => `(?i)${l}`);
      const values = [...new Set(some.flatMap((l) => [l, ...[l.toLowerCase(), l.toUpperCase()].filter((f) => [...f].length === 1)]))];
      // One query per pattern is slow over thousands; compare each pattern only with its own candidates.
      await con.run('CREATE OR REPLACE TEMP TABLE pairs(p VARCHAR, v VARCHAR)');
      const appender = await con.createAppender('pairs');
      const expected: boolean[] = [];
      for (const p of patterns) {
        const re = compileRegex(p);
        const oracle = new RegExp(`^[${p.slice(4).replace(/[\\\]^-]/g, '\\$&')}]$`, 'iu');
        for (const v of values) {
          if (!oracle.test(v) && !re.test(v)) continue; // neither folds them: nothing to compare
          appender.appendVarchar(p);
          appender.appendVarchar(v);
          appender.endRow();
          expected.push(re.test(v));
        }
      }
      appender.closeSync();
      const rows = (await con.runAndReadAll('SELECT p, v, regexp_full_match(v, p) FROM pairs')).getRows();
      rows.forEach(([p, v, duck], n) => {
        if (duck !== expected[n]) mismatches.push(`${String(p)} on U+${(v as string).codePointAt(0)!.toString(16)}: DuckDB ${String(duck)}`);
      });
    }
    assert.deepEqual(mismatches, []);
  });

  it('keeps no i or u flag, so V8’s linear-time engine can still run the pattern', () => {
    for (const p of ['(?i)σ', '(?i)[^k]+x', '(?i)𐐀*']) assert.equal(compileRegex(p).flags, '');
  });
});

describe('a character outside the BMP is one character, as in DuckDB’s RE2', () => {
  const values = ['😀', '😀😀', '😀😀😀', '𐐀', '𐐨', 'a😀', '😀a', 'a', 'x', '/', ' ', '\n', '_', '5', 'é', '\u{10000}', '\u{10ffff}', '\u{1f5ff}', '\u{1f601}', 'K', '\u212a'];
  it('agrees on negated classes, \\S \\W \\D, dots and classes holding such characters', async () => {
    const patterns = [
      '\\S', '\\W', '\\D', '\\s', '\\w', '\\d', '[^a]', '[^/]{3}', '[^/]+', '[^/]{2}', '[😀]', '[😀]+', '[^😀]', '[^😀]+', '[a😀]{2}', '.', '.{2}', '(?s).',
      '[\\x{1F600}-\\x{1F64F}]', '[\\x{10000}-\\x{1F5FF}]', '[\\x{1F601}-\\x{10FFFF}]+', '[^\\x{1F600}]', '[\\S]', '[\\W]{2}', '[[:^alpha:]]', '[^\\d]', '\\x{1F600}', 'a?😀*',
    ];
    assert.deepEqual(await regexDisagreements(patterns, values), []);
  });

  it('reads a lone surrogate in a value as the store keeps it, U+FFFD', () => {
    const matches = compileSpanFilter({ attributes: [{ key: 'k', op: 'regex', value: 'a.b' }] });
    assert.equal(matches(span({ attributes: attrs({ k: 'a\ud800b' }) })), true);
    assert.equal(compileRegex('.{2}').test('😀'), false);
  });
});

describe('bodyContains lowers text as DuckDB’s lower() does', () => {
  it('agrees on every letter Node gives a one-code-point lower case (~55 recent ones DuckDB leaves as they are)', async () => {
    const letters: string[] = [];
    for (let cp = 0x80; cp <= 0x1ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const ch = String.fromCodePoint(cp);
      if (ch.toLowerCase() !== ch && [...ch.toLowerCase()].length === 1) letters.push(ch);
    }
    const lowered = String((await con.runAndReadAll('SELECT lower($1)', [letters.join('\n')])).getRows()[0]![0]).split('\n');
    const differ = letters.filter((ch, i) => simpleLowerCase(ch) !== lowered[i]).map((ch) => `U+${ch.codePointAt(0)!.toString(16)}`);
    assert.deepEqual(differ, []);
    assert.ok(letters.length > 1400);
  });
});

describe('numbers are read as DuckDB’s TRY_CAST(… AS DOUBLE) reads them', () => {
  const ODD = [
    '5', ' 5', '5 ', '\t5\n', '\v5\f', '\r5', '\u00a05', '5\u00a0', '\u20035', '\u30007', '\ufeff5', '\u00855', '\u20285', '+-1', '-+1', '++1', '--1', '+ 1',
    '+5', '-5', '+-inf', '+-Infinity', '-inf', '+inf', 'inf', 'INFINITY', 'infin', 'nan', '-nan', '+-nan', 'nan(1)', 'NaN', '1_000', '_1', '1_', '1__0', '1e1_0',
    '1e400', '-1e400', '1e-400', '0x10', '.5', '5.', '.', '+.5e-3', '1e', '1e+', '1.e5', '١', '１', '', ' ', '1,5', '5 5', '00012', '-0', '+-.5', '+-1e5', '+-1_0',
  ];

  it('toNumber agrees with TRY_CAST on odd strings', async () => {
    const mismatches: string[] = [];
    for (const s of ODD) {
      const [[duck]] = (await con.runAndReadAll('SELECT TRY_CAST($1::VARCHAR AS DOUBLE)', [s])).getRows() as [[number | null]];
      const mine = toNumber(s);
      const same = duck === null ? mine === null : mine !== null && (Object.is(duck, mine) || duck === mine || (Number.isNaN(duck) && Number.isNaN(mine)));
      if (!same) mismatches.push(`${JSON.stringify(s)}: DuckDB ${String(duck)}, matcher ${String(mine)}`);
    }
    assert.deepEqual(mismatches, []);
  });

  it('a comparison finds the same spans in a DuckDB search as in the matcher', async () => {
    const store = await openDuckDbStore({ path: ':memory:', logger: silentLogger(), threads: 1 });
    try {
      const spans: SpanRecord[] = ODD.map((s, n) => span({ name: `v${n}`, spanId: spanId(n + 1), attributes: attrs({ k: s }) }));
      await store.writer.writeSpans(spans);
      for (const op of ['gt', 'gte', 'lt', 'lte'] as const) {
        for (const number of [0, 5, -1]) {
          const filter: TelemetryFilter = { attributes: [{ key: 'k', op, number }] };
          const searched = (await store.traces.searchSpans('default', filter, { first: 500 })).items.map((i) => i.node.name).sort();
          const matched = spans.filter(compileSpanFilter(filter)).map((s) => s.name).sort();
          assert.deepEqual(matched, searched, `${op} ${number}`);
        }
      }
    } finally {
      await store.close();
    }
  });
});

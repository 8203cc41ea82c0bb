// What the redaction processor masks, as functions over one string. Every pattern is anchored on a
// literal, a character class it cannot start inside, or a lookbehind, and has bounded repetition
// (or, for digit runs and e-mails, a scan that never backtracks), so the work is linear in the
// text's length whatever a sender puts in it (no catastrophic backtracking).

import { LRUCache } from 'lru-cache';

export const RULES = ['creditCard', 'email', 'bearerToken', 'apiKey', 'urlPassword', 'sqlLiteral', 'secretAssignment'] as const;
export type RuleName = (typeof RULES)[number];

const mask = (rule: RuleName) => `<redacted:${rule}>`;

// ---- keys: which names hold a secret ----------------------------------------------------------

/**
 * A key as lower-case words joined by '_': any character other than a letter or digit separates
 * words, and so do camelCase (`authToken`, `APIKey`) and letter/digit changes (`oauth2token`).
 * `DB_PASSWORD`, `db.password`, `dbPassword` and `db-password` all read `db_password`.
 */
export function keyWords(key: string): string {
  let out = '';
  let prev = 0; // what the last character was: 0 separator, 1 lower-case letter, 2 upper-case, 3 digit
  const sep = () => {
    if (out !== '' && out.charCodeAt(out.length - 1) !== 95) out += '_';
  };
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    const kind = (c >= 97 && c <= 122) || c > 127 ? 1 : c >= 65 && c <= 90 ? 2 : c >= 48 && c <= 57 ? 3 : 0;
    if (kind === 0) {
      sep();
    } else {
      if (kind === 1 && prev === 3) sep();
      else if (kind === 2 && (prev === 1 || prev === 3)) sep();
      else if (kind === 2 && prev === 2 && i + 1 < key.length && key.charCodeAt(i + 1) >= 97 && key.charCodeAt(i + 1) <= 122) sep(); // APIKey → api_key
      else if (kind === 3 && (prev === 1 || prev === 2)) sep();
      out += kind === 2 ? String.fromCharCode(c + 32) : c > 127 ? key[i]!.toLowerCase() : key[i]!;
    }
    prev = kind;
  }
  return out.endsWith('_') ? out.slice(0, -1) : out;
}

/** Words that, right after a sensitive word, make a key name a property of the secret rather than the secret. */
export const DEFAULT_KEY_QUALIFIERS = ['count', 'type', 'usage', 'length', 'size', 'limit'];

/**
 * A card's verification code (CVV, CVC, CSC): three or four digits no rule could tell from any other
 * number, and data PCI DSS forbids storing at all once a payment is authorised, so its keys are
 * secret keys (their values masked whole, in attributes and in `key=value` text).
 */
export const CARD_CODE_KEYS = ['cvv', 'cvv2', 'cvc', 'cvc2', 'csc', 'security_code'];

/**
 * The key names that hold a secret, for attributes (their values masked whole: the processor's
 * `sensitiveKeys` default) and for `key=value` / `"key": "value"` / `Key: value` text (the
 * secretAssignment rule) alike: one list, so a key is secret in both places or in neither. Matched
 * word by word (keyMatcher): `cookie` covers `set-cookie`, `authorization` `proxy-authorization`,
 * `pwd` `db.pwd`. Two lists that had drifted apart left cookies and raw `Authorization` values in
 * log text, and `pwd`/`access_key` attributes, in clear (security QA).
 */
export const SECRET_KEYS = [
  'password', 'passwords', 'passwd', 'pwd', 'pw', 'passphrase', 'secret', 'secrets', 'token', 'api_key', 'apikey', 'access_key', 'accesskey',
  'authorization', 'cookie', 'cookies', 'credential', 'credentials', 'private_key', ...CARD_CODE_KEYS,
];

/**
 * Whether a key names a secret, after `entries` (each compared as its keyWords). An entry matches
 * where a word of the key ends with it: `token` matches `x-auth-token`, `access_token`,
 * `github.token`, `authToken` and `authtoken`, but not `input_tokens` or `tokenizer` (other words);
 * `api_key` matches `x_api_key` and `apiKey`. A match followed by one of `qualifiers` as the next
 * word does not count (`llm.token_count.prompt`, `gen_ai.token.type` hold counts and kinds of
 * tokens, not tokens). Answers are cached per key (4,096 keys of up to 256 characters: keys come
 * from senders).
 */
/**
 * `decide` remembered per key in an LRU of 4,096 keys of up to 256 characters (keys come from
 * senders: a longer one is decided each time, and a flood of distinct ones only evicts).
 */
function memoPerKey(decide: (key: string) => boolean): (key: string) => boolean {
  const cache = new LRUCache<string, boolean>({ max: 4096 });
  return (key) => {
    if (key.length > 256) return decide(key);
    let hit = cache.get(key);
    if (hit === undefined) {
      hit = decide(key);
      cache.set(key, hit);
    }
    return hit;
  };
}

export function keyMatcher(entries: readonly string[], qualifiers: readonly string[] = DEFAULT_KEY_QUALIFIERS): (key: string) => boolean {
  const words = [...new Set(entries.map(keyWords).filter((e) => e !== ''))];
  const qualifying = new Set(qualifiers.map(keyWords));
  const decide = (key: string): boolean => {
    const k = keyWords(key);
    for (const e of words) {
      for (let at = k.indexOf(e); at !== -1; at = k.indexOf(e, at + 1)) {
        const end = at + e.length;
        if (end < k.length && k.charCodeAt(end) !== 95) continue; // inside a longer word
        if (end === k.length) return true;
        const next = k.indexOf('_', end + 1);
        if (!qualifying.has(k.slice(end + 1, next === -1 ? k.length : next))) return true;
      }
    }
    return false;
  };
  return memoPerKey(decide);
}

const assignmentKeyDefault = keyMatcher(SECRET_KEYS);

// ---- credit cards --------------------------------------------------------------------------------

const isDigit = (c: number) => c >= 48 && c <= 57;
const isHexLetter = (c: number) => (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
const isLetter = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** The Luhn check over the digits of text[from, to) (separators skipped). */
function luhn(text: string, from: number, to: number): boolean {
  let sum = 0;
  let i = 0;
  for (let p = to - 1; p >= from; p--) {
    const c = text.charCodeAt(p);
    if (!isDigit(c)) continue;
    let d = c - 48;
    if (i++ % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/**
 * Whether a number of `n` digits (13–19) whose first four are `p4` starts like a card number of its
 * length: issuer prefixes and lengths per network (the IIN ranges the networks publish). No network
 * here issues cards starting with 1 (UATP, airline cards, is left out), 7, 9 or 0, so epoch
 * timestamps in s, ms, µs and ns (all starting with 1 until 2033) are never cards; ns timestamps
 * starting with 2 (2033–2286) have 19 digits, and every 2-prefixed network here has 16.
 */
function cardPrefix(p4: number, n: number): boolean {
  const p2 = Math.floor(p4 / 100);
  const p3 = Math.floor(p4 / 10);
  switch (Math.floor(p4 / 1000)) {
    case 4: // Visa
      return n === 13 || n === 16 || n === 19;
    case 2: // Mastercard 2221–2720, Mir 2200–2204
      return n === 16 && ((p4 >= 2221 && p4 <= 2720) || (p4 >= 2200 && p4 <= 2204));
    case 5: // Mastercard 51–55; Maestro 50, 56–59
      return p2 >= 51 && p2 <= 55 ? n === 16 : true;
    case 6: // Discover, UnionPay, RuPay, Maestro
      return true;
    case 3: // American Express 34, 37; JCB 3528–3589; Diners Club 300–305, 36, 38, 39
      if (p2 === 34 || p2 === 37) return n === 15;
      if (p4 >= 3528 && p4 <= 3589) return n >= 16;
      return (p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39 ? n >= 14 : false;
    case 8: // RuPay, UnionPay 81–82
      return (p2 === 81 || p2 === 82) && n === 16;
    default:
      return false;
  }
}

function isCard(text: string, from: number, to: number, digits: number): boolean {
  let p4 = 0;
  for (let i = from, k = 0; k < 4; i++) {
    const c = text.charCodeAt(i);
    if (isDigit(c)) {
      p4 = p4 * 10 + c - 48;
      k++;
    }
  }
  return cardPrefix(p4, digits) && luhn(text, from, to);
}

/**
 * Whether the letters next to a digit group, from `from` going `step` (-1 or 1), make it part of a
 * hex string: they are hex letters up to the word's end. A word of only hex characters is a trace or
 * span ID or a hash, not a card with a label; `card4111…` is a card. Looks at most 64 characters.
 */
function hexSide(text: string, from: number, step: -1 | 1): boolean {
  let hex = false;
  for (let i = from, n = 0; i >= 0 && i < text.length && n < 64; i += step, n++) {
    const c = text.charCodeAt(i);
    if (isHexLetter(c)) hex = true;
    else if (isLetter(c)) return false;
    else if (!isDigit(c)) break;
  }
  return hex;
}

function digitsEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length && isDigit(text.charCodeAt(i))) i++;
  return i;
}

/**
 * Where the next group of a run starts, or -1: after one space, no-break space (U+00A0, U+202F) or
 * hyphen, 3 digits or more; after a dot, only between groups of 4–6 digits (`4111.1111.1111.1111`,
 * `3782.822463.10005`), so version strings, IPv4 addresses (groups of 1–3) and decimals
 * (`123.4567890123456`) never make a run.
 */
function nextGroup(text: string, end: number): number {
  const c = text.charCodeAt(end);
  if (!(isDigit(text.charCodeAt(end + 1)) && isDigit(text.charCodeAt(end + 2)) && isDigit(text.charCodeAt(end + 3)))) return -1;
  if (c === 32 || c === 45 || c === 160 || c === 0x202f) return end + 1;
  if (c !== 46) return -1;
  const after = digitsEnd(text, end + 1) - end - 1;
  let before = 0;
  while (before < 7 && end - before > 0 && isDigit(text.charCodeAt(end - before - 1))) before++;
  return after >= 4 && after <= 6 && before >= 4 && before <= 6 ? end + 1 : -1;
}

/** Whether the group text[start, end) is where a number ends or starts on its outer side (not a hex word, `0x…`, or a decimal's other half). */
function outerSides(text: string, start: number, end: number, lone: boolean): { left: boolean; right: boolean } {
  const before = start > 0 ? text.charCodeAt(start - 1) : 0;
  const after = end < text.length ? text.charCodeAt(end) : 0;
  const hexBefore = isLetter(before) && hexSide(text, start - 1, -1);
  const hexAfter = isLetter(after) && hexSide(text, end, 1);
  // A lone group is in a hex word when each side is hex letters or no letter, one side at least hex.
  const inHex = lone && (hexBefore || hexAfter) && (hexBefore || !isLetter(before)) && (hexAfter || !isLetter(after));
  const hexLiteral = (before === 120 || before === 88) && text.charCodeAt(start - 2) === 48;
  const fraction = before === 46 && isDigit(text.charCodeAt(start - 2));
  const integerPart = after === 46 && isDigit(text.charCodeAt(end + 1));
  return { left: !(inHex || (!lone && hexBefore) || hexLiteral || fraction), right: !(inHex || (!lone && hexAfter) || integerPart) };
}

// Words that say a number beside them is a card number: the card, its networks, its expiry, its CVV.
const CARD_WORDS = new Set(['card', 'cards', 'cc', 'ccn', 'ccnum', 'pan', 'credit', 'debit', 'visa', 'mastercard', 'maestro', 'amex', 'discover', 'jcb', 'unionpay', 'diners', 'rupay', 'cvv', 'cvc', 'csc', 'exp', 'expiry', 'expires', 'expiration']);
// An expiry date, `MM/YY` or `MM/YYYY`, not part of a longer date (`2029/12/31`, `12/31/2029`).
const EXPIRY = /(?<![\d/])(?:0?[1-9]|1[0-2]) ?\/ ?(?:\d{4}|\d{2})(?![\d/])/;
const CONTEXT_CHARS = 32;
const isAlnum = (c: number) => isDigit(c) || isLetter(c);
const hasCardWord = (text: string) => keyWords(text).split('_').some((w) => CARD_WORDS.has(w));

/**
 * Whether an attribute key names a card number (`card.number`, `payment.pan`, `cc_num`): its words,
 * whole (`span_id` is not `pan`), include a CARD_WORDS one. Cached per key like keyMatcher.
 */
export const isCardKey = memoPerKey(hasCardWord);

/**
 * Whether the text within CONTEXT_CHARS of the number text[start, end) says it is a card: a
 * CARD_WORDS word (`card_number=`, `"pan":`, `Visa`, `cvv 123`) or an expiry date. The words cut by
 * a window's outer edge are left out (`discard` is not `card`).
 */
function cardContext(text: string, start: number, end: number): boolean {
  let from = Math.max(0, start - CONTEXT_CHARS);
  if (from > 0) while (from < start && isAlnum(text.charCodeAt(from - 1))) from++;
  let to = Math.min(text.length, end + CONTEXT_CHARS);
  if (to < text.length) while (to > end && isAlnum(text.charCodeAt(to))) to--;
  const before = text.slice(from, start);
  const after = text.slice(end, to);
  return hasCardWord(before) || hasCardWord(after) || EXPIRY.test(before) || EXPIRY.test(after);
}

/**
 * From this many digits, a number in one group is a card only with a sign of one (cardContext, or a
 * card key). Decimal IDs are this long: 64-bit trace and span IDs printed in decimal (Datadog's) have
 * up to 20 digits, half of them 19, and snowflake IDs 17–19; some 3 % of random 19-digit numbers pass a
 * prefix and the Luhn check. Cards this long are rare (Visa, Maestro, Discover, UnionPay, JCB and
 * Diners issue some), and are written grouped or beside a label, an expiry or a CVV.
 */
export const LONE_CONTEXT_DIGITS = 17;

// Where a run that can hold 13 digits starts: a group of 13 digits or more, or of 3 or more followed
// by another. Found natively (the lookbehind fails at once inside a group), so text without such a
// run, prose with short numbers included, costs one regex scan. `\d{13}\d*`, not `\d{13,}`: V8
// keeps a backtrack entry per digit of the latter and overflows the stack on 16 MB of digits.
const BIG_GROUP = /(?<!\d)(?:\d{13}\d*|\d{3}\d*(?=[ \-\u00a0\u202f]\d{3}|\.\d{4}))/g;

/**
 * Masks card numbers. A card is whole groups of a run of digit groups separated by one space,
 * no-break space or hyphen, or a dot between groups of 4–6 digits (nextGroup): one group of 13–19 digits, or consecutive groups of 3 digits or more (`4111 1111 1111
 * 1111`, `3782 822463 10005`) making 13–19 digits, with a card's prefix for its length and a valid
 * Luhn check; the groups around it (an expiry date, a CVV, an order number) may be any digits, and
 * the longest candidate from a group is tried first (a card and the CVV after it go together). A card
 * is never cut out of a longer group of digits: most long numbers hold some Luhn-valid 13–19-digit
 * window with a card prefix (half of all 19-digit numbers), so that would mask every long number. A
 * group in a word of hex characters (trace and span IDs, hashes: hexSide) or after `0x` is part of a
 * hex string, and a group after or before `<digit>.` is part of a decimal number
 * (`0.6011000990139424`); neither is a card. A candidate of one group of 17–19 digits is a card only
 * with a sign of one (LONE_CONTEXT_DIGITS): a card word or an expiry within 32 characters, or a card
 * key (`options.cardKey`). Of 100,000 random 19-digit numbers, 3.2 % were masked without that rule
 * (7.2 % of those starting with 3–6; 2.1–2.2 % of 17- and 18-digit ones) and none with it, bare,
 * in JSON or in a `dd.trace_id=` line; 19-digit cards beside `card`, `pan`, an expiry or a CVV, or
 * grouped, are masked as before. Each group is read at most once per candidate that starts within
 * 19 digits before it, and a lone group's context once: linear.
 */
function redactCards(text: string, count: (r: RuleName) => void, cardKey: boolean): string {
  if (text.length < 13) return text;
  let out = '';
  let copied = 0;
  const starts = new Int32Array(8);
  const ends = new Int32Array(8);
  BIG_GROUP.lastIndex = 0;
  for (let m = BIG_GROUP.exec(text); m !== null; m = BIG_GROUP.exec(text)) {
    const runStart = m.index;
    let s = runStart;
    let e = runStart + m[0].length;
    for (;;) {
      const first = e - s;
      const following = nextGroup(text, e);
      let runEnd = e;
      if (first <= 19) {
        // The groups a card starting at s could span.
        starts[0] = s;
        ends[0] = e;
        let k = 1;
        let digits = first;
        for (let g = following; g !== -1 && k < 8; ) {
          const ge = digitsEnd(text, g);
          if (digits + ge - g > 19) break;
          starts[k] = g;
          ends[k] = ge;
          k++;
          digits += ge - g;
          g = nextGroup(text, ge);
        }
        for (let h = k - 1; h >= 0; h--) {
          if (digits >= 13) {
            const lastOfRun = nextGroup(text, ends[h]!) === -1;
            const sides = s === runStart || lastOfRun ? outerSides(text, s, ends[h]!, s === runStart && lastOfRun) : { left: true, right: true };
            if ((s !== runStart || sides.left) && (!lastOfRun || sides.right) && isCard(text, s, ends[h]!, digits) && (h > 0 || digits < LONE_CONTEXT_DIGITS || cardKey || cardContext(text, s, ends[0]!))) {
              out += text.slice(copied, s) + mask('creditCard');
              copied = ends[h]!;
              count('creditCard');
              runEnd = ends[h]!;
              break;
            }
          }
          digits -= ends[h]! - starts[h]!;
        }
      }
      const next = nextGroup(text, runEnd);
      if (next === -1) {
        BIG_GROUP.lastIndex = runEnd;
        break;
      }
      s = next;
      e = digitsEnd(text, s);
    }
  }
  return copied === 0 ? text : out + text.slice(copied);
}

// ---- the other rules -----------------------------------------------------------------------------

// An HTTP authorization scheme and what follows it. Masked only when it is a credential
// (bearerCredential): after `Bearer`, after an `Authorization:` header, or a token that looks like
// one; `Token validation failed`, `Basic information` and `Digest computation` are prose.
const BEARER = /\b(Bearer|Basic|Token|Digest)\s+([A-Za-z0-9\-._~+/]{8,4096}=*)/gi;
// An `Authorization:` / `Proxy-Authorization=` / `"authorization": "` right before a scheme.
const AUTHORIZATION_BEFORE = /authorization\\?["']?\s{0,8}[:=]\s{0,8}\\?["']?$/i;
const JWT = /\beyJ[A-Za-z0-9_-]{1,4096}\.eyJ[A-Za-z0-9_-]{1,8192}\.[A-Za-z0-9_-]{0,4096}/g;
const API_KEYS = /\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,200}|sk_(?:live|test)_[A-Za-z0-9]{16,200}|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}|xox[abprs]-[A-Za-z0-9-]{10,200}|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20,200})/g;
// `scheme://user:password@host`: the user may be empty (`redis://:pw@host`) and hold an '@'
// (`user@corp.com`); the password runs to the last '@' of the authority, which ends at '/', '?',
// '#' or white space (RFC 3986), so `p@ss` is masked whole.
const URL_PASSWORD = /:\/\/([^\s:/?#]{0,256}):([^\s/?#]{1,256})@/g;
// npm access tokens and Stripe restricted keys: looked for only in text holding `_` and `npm_` or
// `k_live_`/`k_test_` (as alternatives in API_KEYS they doubled its time on JSON chat messages;
// `includes` is slow for a pattern starting with a common letter, so `_` first).
const MORE_KEYS = /\b(?:npm_[A-Za-z0-9]{36}|rk_(?:live|test)_[A-Za-z0-9]{16,200})\b/g;
const hasMoreKeys = (t: string) => t.includes('_') && (t.includes('npm_') || t.includes('k_live_') || t.includes('k_test_'));
// A PEM private key block (PKCS#1, PKCS#8, encrypted, EC, DSA, OpenSSH): BEGIN to its END, or, cut
// before its END, to where its base64 lines end (PEM_BODY).
const PEM_BEGIN = /-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY)-----/g;
const PEM_BODY = /(?:[A-Za-z0-9+/=:,\s-]|\\[nr]){0,16384}/y;
// SQL literals: '…' (a quote doubled inside), "…" (a string in MySQL's default mode; an identifier
// elsewhere: quotedStrings), and PostgreSQL's dollar quotes, $$…$$ and $tag$…$tag$ (not inside an
// identifier: `a$b$c` is one in both). The closing tag is found by sqlLiteralEnd.
const SQL_QUOTED = /'(?:[^']|''){0,100000}'|"(?:[^"]|""){0,100000}"|(?<![A-Za-z0-9_$])\$(?:[A-Za-z_][A-Za-z0-9_]{0,62})?\$/g;
// `key=value`, `key: value`, `"key": "value"`, `\"key\":\"value\"`: a key (any name: which keys
// count is decided on its words, as for attribute keys), an optional closing quote, the separator.
// The lookbehind starts a key only where a name starts, so each position is tried once.
// The separator is `=`, `:` or Ruby's `=>` (`:password => "x"`, `"token" => "x"`).
const ASSIGNMENT = /(?<![A-Za-z0-9_.-])([A-Za-z0-9_.-]{1,128})(\\?["'])?(\s{0,8}(?:=>|[=:])\s{0,8})/g;
const ASSIGNMENT_AT = new RegExp(ASSIGNMENT.source, 'y');
const SEPARATOR = /[=:]/g;
const SPACE = /\s/;
/** A character of ASSIGNMENT's key class, [A-Za-z0-9_.-]. */
const isKeyChar = (c: number) => isDigit(c) || isLetter(c) || c === 95 || c === 46 || c === 45;
/** What `\s` matches, ASCII without a regex. */
const isSpaceAt = (text: string, i: number) => {
  const c = text.charCodeAt(i);
  return c === 32 || (c >= 9 && c <= 13) || (c > 127 && SPACE.test(text[i]!));
};

/**
 * ASSIGNMENT.exec(text), found from the separators: tried at every position, ASSIGNMENT cost 190 µs
 * of the 240 a 15 KB prompt took to redact (session 24), though `=` and `:` are rare in prose. A
 * match is a key, an optional quote and white space up to its separator, none of which holds a
 * separator, so matches come in the order of their separators, and each separator has one place its
 * key can start, found by reading back; ASSIGNMENT itself, anchored there, decides.
 */
function nextAssignment(text: string): RegExpExecArray | null {
  SEPARATOR.lastIndex = ASSIGNMENT.lastIndex;
  for (let sep = SEPARATOR.exec(text); sep !== null; sep = SEPARATOR.exec(text)) {
    let i = sep.index - 1;
    for (let n = 0; n < 8 && i >= 0 && isSpaceAt(text, i); n++) i--;
    const q = text.charCodeAt(i);
    if (q === 34 || q === 39) i -= text.charCodeAt(i - 1) === 92 ? 2 : 1; // `"` or `'`, after a `\` or not
    const keyEnd = i;
    while (i >= 0 && keyEnd - i < 129 && isKeyChar(text.charCodeAt(i))) i--;
    const start = i + 1;
    if (start > keyEnd || start < ASSIGNMENT.lastIndex) continue;
    ASSIGNMENT_AT.lastIndex = start;
    const m = ASSIGNMENT_AT.exec(text);
    if (m !== null) {
      ASSIGNMENT.lastIndex = ASSIGNMENT_AT.lastIndex;
      return m;
    }
  }
  ASSIGNMENT.lastIndex = 0;
  return null;
}
// The value after it: quoted (escapes kept inside; the closing quote may be missing, as in a cut
// value) or bare up to white space or a delimiter (bareEnd then finds where it ends within that).
const ASSIGNED_VALUE = /"(?:[^"\\\r\n]|\\.){0,1024}"?|'(?:[^'\\\r\n]|\\.){0,1024}'?|\\"(?:\\\\(?:\\\\|\\"|[^\\])|\\[^"\\]|[^"\\]){0,1024}(?:\\")?|[^\s&;,'"]{1,1024}/y;

// The further `; name=value` pairs of a bare Cookie / Set-Cookie value (bounded, and each pair
// starts at a `;` its value cannot hold, so matching never backtracks).
const COOKIE_KEY = /(?:^|_)(?:set_)?cookies?$/;
const COOKIE_PAIRS = /(?:;[ \t]{0,8}[^\s;,=]{1,128}=[^\s;]{0,1024}){1,64}/y;

const isWordChar = (c: number) => isDigit(c) || isLetter(c) || c === 95;
const SCHEME_WORD = /^[A-Za-z][A-Za-z0-9-]{0,31}$/;
const MASKED_CREDENTIAL_NEXT = /^\s{1,8}<redacted:bearerToken>/;
const SCHEMED_CREDENTIAL = /[ \t]{1,8}[A-Za-z0-9\-._~+/]{8,4096}=*/y;
const SCHEME_MASKED = /^[A-Za-z][A-Za-z0-9-]{0,31}\s{1,8}<redacted:bearerToken>$/;

// Brackets by character code: an opening one as its kind (1–4), a closing one as its kind + 4.
const BRACKET = new Uint8Array(128);
'([{<'.split('').forEach((c, k) => (BRACKET[c.charCodeAt(0)] = k + 1));
')]}>'.split('').forEach((c, k) => (BRACKET[c.charCodeAt(0)] = k + 5));
const depth = new Int32Array(5);

/**
 * Where a bare value in text[from, to) ends: at a closing bracket (`)`, `]`, `}`, `>`) the value did
 * not open itself, unless a letter, digit or '_' follows it (`p}ss` is one word, kept whole: a
 * secret's tail is never left out). So `{"token":null}`, `f(token=abc)`, `[token=abc]`,
 * `<token=abc>` and `token=abc}, x` end before the bracket, and `token=f(x)` or `key={abc}` keep
 * theirs. One pass over at most 1,024 characters.
 */
function bareEnd(text: string, from: number, to: number): number {
  let opened = false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    const b = c < 128 ? BRACKET[c]! : 0;
    if (b === 0) continue;
    if (b <= 4) {
      if (!opened) depth.fill(0);
      opened = true;
      depth[b]!++;
    } else if (opened && depth[b - 4]! > 0) {
      depth[b - 4]!--;
    } else if (i + 1 >= to || !isWordChar(text.charCodeAt(i + 1))) {
      return i;
    }
  }
  return to;
}

/** The longest object or array under a secret key that is masked whole (characters, as written). */
const MAX_STRUCTURED_VALUE = 16_384;

/**
 * How the text an object or array under a secret key is written in is read: `json` (`"key": […]`),
 * `escaped` (JSON inside a JSON string, `\"key\": […]`: `\"` is its quote, `\\` its backslash,
 * an unescaped `"` ends it), `quotes` (`'key': […]`, Python's repr: strings in either quote) or
 * `bare` (`key=[…]`, `map[key:[…]]`: strings in double quotes).
 */
export type Quoting = 'json' | 'escaped' | 'quotes' | 'bare';

export interface ValueEnd {
  /** Just past its closing bracket; or, not closed, where its text ends. */
  end: number;
  closed: boolean;
}

/**
 * Finds where objects and arrays in `text` end: `end(from, quoting)` for the one opening at
 * text[from], read as `quoting` says with strings and escapes. `closed` just past its closing
 * bracket; or, not closed, where its text ends (the text's end; in `escaped` text also the `"`
 * ending the string it is in): the value was cut and runs to there. Undefined when it does not
 * close within MAX_STRUCTURED_VALUE characters. Any bracket kind closes any: only where the value
 * ends matters.
 *
 * Linear however the brackets nest. A read goes on from where it stopped, and keeps where every
 * bracket it read outside a string ends: one opening inside another's value (`{"token":[` over
 * and over, unclosed) is answered from the read already made, or by reading on from where it
 * stopped, never by reading the same text again. A new read starts where no read has been, except
 * for a bracket an earlier read took as inside a string (text that is not what its quoting says):
 * those reads share `2 × text.length` characters, then are not made (undefined). `charsRead()`:
 * the characters read so far (at most `3 × text.length`), for tests.
 */
export function bracketReader(text: string): { end(from: number, quoting: Quoting): ValueEnd | undefined; charsRead(): number } {
  let quoting: Quoting = 'json';
  let pos = 0; // read up to here
  let reached = 0; // the furthest any read got
  let quote = 0; // the quote of the string being read, 0 outside one
  let escape = false; // the last character was a backslash inside a string
  let textEnd = -1; // where the read text ended, -1 before
  let stack: number[] = []; // where the brackets still open are
  let ends = new Map<number, number>(); // where each bracket read ends, -1 while open
  let charged = false; // the read started where an earlier one had been
  let budget = 2 * text.length;
  let total = 0;

  const read = (limit: number) => {
    const escaped = quoting === 'escaped';
    const quotes = quoting === 'quotes';
    let i = pos;
    const to = charged ? Math.min(limit, pos + budget) : limit;
    while (i < to) {
      const at = i;
      let c = text.charCodeAt(i++);
      if (escaped) {
        // One character of the JSON inside the string, read from its escape.
        if (c === 34) {
          textEnd = at;
          break;
        }
        if (c === 92) {
          const n = text.charCodeAt(i++);
          if (n === 117) {
            c = Number.parseInt(text.slice(i, i + 4), 16) || 0; // \uXXXX
            i += 4;
          } else c = n === 34 || n === 92 ? n : 0;
        }
      }
      if (quote !== 0) {
        if (escape) escape = false;
        else if (c === 92) escape = true;
        else if (c === quote) quote = 0;
      } else if (c === 34 || (c === 39 && quotes)) quote = c;
      else if (c === 123 || c === 91) {
        stack.push(at);
        ends.set(at, -1);
      } else if (c === 125 || c === 93) {
        ends.set(stack.pop()!, i);
        if (stack.length === 0) break; // the first one closed: what follows is outside
      }
    }
    if (i >= text.length) {
      i = text.length; // past a cut escape
      if (textEnd === -1) textEnd = text.length;
    }
    if (charged) budget -= i - pos;
    total += i - pos;
    pos = i;
  };

  const end = (from: number, how: Quoting): ValueEnd | undefined => {
    reached = Math.max(reached, pos);
    if (how !== quoting || !ends.has(from)) {
      charged = from < reached;
      if (charged && budget <= 0) return undefined;
      quoting = how;
      pos = from;
      quote = 0;
      escape = false;
      textEnd = -1;
      stack = [];
      ends = new Map();
      read(Math.min(text.length, from + MAX_STRUCTURED_VALUE));
    } else if (ends.get(from) === -1 && textEnd === -1) {
      read(Math.min(text.length, from + MAX_STRUCTURED_VALUE));
    }
    const at = ends.get(from)!;
    if (at !== -1) return { end: at, closed: true };
    return textEnd !== -1 ? { end: textEnd, closed: false } : undefined;
  };
  return { end, charsRead: () => total };
}

/** Whether text[from, to) is only white space. */
function blank(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return false;
  }
  return true;
}

function redactAssignments(text: string, isKey: (key: string) => boolean, count: (r: RuleName) => void): string {
  if (!text.includes('=') && !text.includes(':')) return text;
  let out = '';
  let copied = 0;
  let brackets: ReturnType<typeof bracketReader> | undefined; // made for the first object or array under a secret key
  ASSIGNMENT.lastIndex = 0;
  for (let m = nextAssignment(text); m !== null; m = nextAssignment(text)) {
    if (!isKey(m[1]!)) continue; // the search goes on after the separator: `note=password=x`
    const at = m.index + m[0].length;
    ASSIGNED_VALUE.lastIndex = at;
    const v = ASSIGNED_VALUE.exec(text);
    if (!v) continue;
    let value = v[0];
    const open = value.startsWith('\\"') ? '\\"' : value[0] === '"' || value[0] === "'" ? value[0] : '';
    // A key in double quotes (`"key":`, `\"key\":`) is JSON: a bare value there is a JSON literal,
    // an object or an array, and what replaces it must be JSON too.
    const json = open === '' && (m[2] === '"' || m[2] === '\\"') ? m[2] : '';
    if (open === '') {
      if (value[0] === '{' || value[0] === '[') {
        // An object or array under a secret key is secret whole: it becomes the marker, as a string
        // of the text's own kind (JSON stays JSON, a Python repr a repr). One cut before it closes
        // runs to where its text ends and is masked to there (as a quoted value cut before its
        // closing quote is). One that does not close within the bounds (bracketReader) has its
        // own keys looked at instead; so does a bare one that never closes (`token=[abc`), whose
        // value then ends as any bare value does.
        const quoting: Quoting = json === '"' ? 'json' : json === '\\"' ? 'escaped' : m[2]?.endsWith("'") ? 'quotes' : 'bare';
        const found = (brackets ??= bracketReader(text)).end(at, quoting);
        if (found?.closed && blank(text, at + 1, found.end - 1)) {
          ASSIGNMENT.lastIndex = found.end; // `[]`, `{}`: nothing to hide
          continue;
        }
        if (found && (found.closed || quoting !== 'bare')) {
          const q = quoting === 'json' ? '"' : quoting === 'escaped' ? '\\"' : quoting === 'quotes' ? "'" : '';
          count('secretAssignment');
          out += text.slice(copied, at) + q + mask('secretAssignment') + q;
          copied = found.end;
          ASSIGNMENT.lastIndex = found.end;
          continue;
        }
        if (quoting !== 'bare') {
          ASSIGNMENT.lastIndex = at;
          continue;
        }
      }
      const end = bareEnd(text, at, at + value.length);
      if (end !== at + value.length) value = value.slice(0, end - at);
      else if (COOKIE_KEY.test(keyWords(m[1]!))) {
        // `Cookie: a=1; sid=…`: every pair of the header is masked, not just the first (a session
        // ID is rarely the first cookie); Set-Cookie's attributes (`Path=/`) go with them.
        let pairsEnd = at + value.length;
        for (COOKIE_PAIRS.lastIndex = pairsEnd; COOKIE_PAIRS.test(text); ) pairsEnd = COOKIE_PAIRS.lastIndex;
        value = text.slice(at, pairsEnd);
      }
    }
    const close = open !== '' && value.length >= 2 * open.length && value.endsWith(open) ? open : '';
    const inner = value.slice(open.length, value.length - close.length);
    ASSIGNMENT.lastIndex = at + value.length;
    // Nothing to hide, or already masked (a SQL literal, a token another rule found). In JSON,
    // null, true and false are not secrets.
    if (inner === '' || (inner === '?' && open === "'") || inner.startsWith('<redacted:')) continue;
    // An authorization scheme whose credential the bearerToken rule masked (`Authorization: Basic
    // <redacted:bearerToken>`, quoted or not): the scheme is no secret.
    if (open === '' ? SCHEME_WORD.test(inner) && MASKED_CREDENTIAL_NEXT.test(text.slice(at + value.length, at + value.length + 32)) : SCHEME_MASKED.test(inner)) continue;
    if (json !== '' && (inner === 'null' || inner === 'true' || inner === 'false')) continue;
    count('secretAssignment');
    if (open === '' && json === '' && SCHEME_WORD.test(inner)) {
      // `Authorization: Negotiate YIIG…`: a scheme the bearerToken rule does not know, then its
      // credential, masked with it (a bare value ends at white space and would leave the credential).
      SCHEMED_CREDENTIAL.lastIndex = at + value.length;
      const credential = SCHEMED_CREDENTIAL.exec(text);
      if (credential && keyWords(m[1]!).endsWith('authorization')) {
        out += text.slice(copied, at) + inner + ' ' + mask('secretAssignment');
        copied = SCHEMED_CREDENTIAL.lastIndex;
        ASSIGNMENT.lastIndex = copied;
        continue;
      }
    }
    // A bare JSON value (a number, or text a sender did not quote) becomes a JSON string.
    out += text.slice(copied, at) + (open || json) + mask('secretAssignment') + (close || json);
    copied = at + value.length;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

// E-mails are found by scanning from each '@' (a regex would retry the local part at every start),
// and from each `%40` (an '@' percent-encoded in a URL: `?to=alice%40example.com`). Local parts and
// domains may hold non-ASCII letters, marks and digits (RFC 6531 addresses, IDN domains:
// `josé@example.com`, `hans@müller.de`, `user@例え.jp`).
const EMAIL_LOCAL = new Uint8Array(128);
const EMAIL_DOMAIN = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  EMAIL_LOCAL[c] = /[A-Za-z0-9._%+-]/.test(ch) ? 1 : 0;
  EMAIL_DOMAIN[c] = /[A-Za-z0-9.-]/.test(ch) ? 1 : 0;
}
const NON_ASCII_WORD = /[\p{L}\p{M}\p{N}]/u;
/** A non-ASCII letter, mark or digit (half of a surrogate pair counts: astral letters are rare and never punctuation here). */
const nonAsciiWord = (text: string, i: number, c: number) => c > 127 && ((c >= 0xd800 && c <= 0xdfff) || NON_ASCII_WORD.test(text[i]!));
const emailChar = (table: Uint8Array, text: string, i: number) => {
  const c = text.charCodeAt(i);
  return c < 128 ? table[c] === 1 : nonAsciiWord(text, i, c);
};
/** A top-level domain text[from, to): 2–24 letters of one script kind (ASCII, or not), or an IDN's `xn--…` label. */
function topLevelDomain(text: string, from: number, to: number): boolean {
  const n = to - from;
  if (n >= 5 && n <= 63 && text.slice(from, from + 4).toLowerCase() === 'xn--') return true;
  if (n < 2 || n > 24) return false;
  const ascii = text.charCodeAt(from) < 128;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (!(ascii ? isLetter(c) : nonAsciiWord(text, i, c))) return false;
  }
  return true;
}

/** Where the next '@' or `%40` at or after `from` is, and its length (1 or 3); -1 if none. */
function nextAt(text: string, from: number, cache: { at: number; pct: number }): [number, number] {
  if (cache.at !== -1 && cache.at < from) cache.at = text.indexOf('@', from);
  if (cache.pct !== -1 && cache.pct < from) cache.pct = text.indexOf('%40', from);
  if (cache.at === -1 && cache.pct === -1) return [-1, 0];
  if (cache.pct === -1 || (cache.at !== -1 && cache.at < cache.pct)) return [cache.at, 1];
  return [cache.pct, 3];
}

/**
 * Masks e-mail addresses: the whole local part, however long (the run of local-part characters
 * before the '@', back to the previous '@', `%40` or masked address at most, so the scan is linear; never
 * part of it: `mü<redacted>` looked handled and was not), an '@' or `%40`, and a domain of at most
 * 254 characters with a top-level domain. A domain read into text of another script
 * (`example.com谢谢`) ends where its last label changes script.
 */
function redactEmails(text: string, count: (r: RuleName) => void): string {
  const cache = { at: text.indexOf('@'), pct: text.indexOf('%40') };
  if (cache.at === -1 && cache.pct === -1) return text;
  let out = '';
  let last = 0;
  let floor = 0; // just past the previous '@' or `%40`: no local part reaches over one
  let [at, sign] = nextAt(text, 0, cache);
  while (at !== -1) {
    let start = at;
    while (start > Math.max(last, floor) && emailChar(EMAIL_LOCAL, text, start - 1)) start--;
    const domain = at + sign;
    let end = domain;
    while (end < text.length && end - domain < 254 && emailChar(EMAIL_DOMAIN, text, end)) end++;
    while (end > domain && text.charCodeAt(end - 1) === 46) end--; // a sentence's full stop
    let dot = end - 1;
    while (dot > domain && text.charCodeAt(dot) !== 46) dot--;
    let ok = dot > domain && topLevelDomain(text, dot + 1, end);
    if (!ok && dot > domain && end > dot + 1 && text.charCodeAt(end - 1) > 127) {
      // Letters of another script right after an ASCII top-level domain: the address ends before them.
      let cut = end;
      while (cut > dot + 1 && text.charCodeAt(cut - 1) > 127) cut--;
      if (cut > dot + 1 && topLevelDomain(text, dot + 1, cut)) {
        end = cut;
        ok = true;
      }
    }
    if (start < at && ok) {
      out += text.slice(last, start) + mask('email');
      count('email');
      last = end;
    }
    floor = domain;
    [at, sign] = nextAt(text, Math.max(at + 1, last), cache);
  }
  return out + text.slice(last);
}

/**
 * Whether `scheme token` (a BEARER match at `at` in `text`) is a credential: always after `Bearer`
 * or an `Authorization:` header (AUTHORIZATION_BEFORE); after another scheme word only when the
 * token looks like one, with a digit, a base64 `+`, `/` or `=`, or mixed case inside (`dXNlcjpwYXNz`,
 * base64 of `user:pass`; one change from lower to upper case, as in `JavaScript`, is a word). So
 * `Token validation failed` and `Basic information` are kept, and a search for them still finds them.
 */
function bearerCredential(scheme: string, token: string, text: string, at: number): boolean {
  if (scheme.length === 6 && scheme.toLowerCase() === 'bearer') return true;
  let upturns = 0;
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (isDigit(c) || c === 43 || c === 47 || c === 61) return true;
    if (c >= 65 && c <= 90 && i > 0 && token.charCodeAt(i - 1) >= 97 && token.charCodeAt(i - 1) <= 122 && ++upturns >= 2) return true;
  }
  return at > 0 && AUTHORIZATION_BEFORE.test(text.slice(Math.max(0, at - 48), at));
}

/** PEM private key blocks become the apiKey marker, BEGIN to END (or, cut, to where the base64 ends). */
function redactPrivateKeys(text: string, count: (r: RuleName) => void): string {
  let out = '';
  let copied = 0;
  PEM_BEGIN.lastIndex = 0;
  for (let m = PEM_BEGIN.exec(text); m !== null; m = PEM_BEGIN.exec(text)) {
    const endLine = `-----END ${m[1]!}-----`;
    const bodyFrom = m.index + m[0].length;
    const close = text.indexOf(endLine, bodyFrom);
    let end: number;
    if (close !== -1 && close - bodyFrom <= 16384) {
      end = close + endLine.length;
    } else {
      PEM_BODY.lastIndex = bodyFrom;
      PEM_BODY.exec(text);
      end = PEM_BODY.lastIndex;
    }
    count('apiKey');
    out += text.slice(copied, m.index) + mask('apiKey');
    copied = end;
    PEM_BEGIN.lastIndex = end;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

const SQL_QUOTES = ["'", '"', '$'];

/** Whether the quote at `q` follows `PASSWORD` or `IDENTIFIED [WITH plugin] BY` and white space. */
function afterPasswordWord(text: string, q: number): boolean {
  // Cheap first: white space before the quote, and a word ending in d (password) or y (by) before it.
  const before = text.charCodeAt(q - 1);
  if (!(before === 32 || before === 9 || before === 10)) return false;
  let w = q - 1;
  while (w > 0 && q - w < 8 && isSpaceAt(text, w - 1)) w--;
  const last = text.charCodeAt(w - 1) | 32;
  if (last !== 100 && last !== 121) return false;
  const [word, start] = wordBefore(text, q);
  if (word === 'password') return true;
  if (word !== 'by') return false;
  const [w2, s2] = wordBefore(text, start);
  if (w2 === 'identified') return true;
  if (w2 === '') return false;
  const [w3, s3] = wordBefore(text, s2);
  return w3 === 'with' && wordBefore(text, s3)[0] === 'identified';
}

const DOLLAR_TAG = /\$(?:[A-Za-z_][A-Za-z0-9_]{0,62})?\$/y;

/** The word (ASCII letters, digits, `_`) ending at `end` after at most 8 spaces before it, lower-cased, and where it starts; '' if none. */
function wordBefore(text: string, end: number): [string, number] {
  let i = end;
  for (let n = 0; n < 8 && i > 0 && isSpaceAt(text, i - 1); n++) i--;
  if (i === end) return ['', end];
  const wordEnd = i;
  while (i > 0 && wordEnd - i < 32 && isWordChar(text.charCodeAt(i - 1))) i--;
  return [text.slice(i, wordEnd).toLowerCase(), i];
}

/**
 * SQL that sets a password, in any text (a log line, a span name): the literal after `PASSWORD`
 * (`ALTER USER app WITH PASSWORD 'x'`, `SET PASSWORD = 'x'` is an assignment already) or
 * `IDENTIFIED [WITH plugin] BY` ('…', "…", $$…$$ or $tag$…$tag$, at most 1,024 characters) becomes
 * the secretAssignment marker inside its quotes. Found from the quotes, reading one to three words
 * back from each, so text without quotes costs one scan; each literal is read at most 1,024
 * characters, once: linear.
 */
function redactSqlPasswords(text: string, count: (r: RuleName) => void): string {
  // The quotes that follow PASSWORD or IDENTIFIED … BY, found one quote character at a time (a
  // tight indexOf loop: JSON is full of `"`), in text order.
  let found: number[] | undefined;
  for (const quote of SQL_QUOTES) {
    for (let q = text.indexOf(quote); q !== -1; q = text.indexOf(quote, q + 1)) {
      if (afterPasswordWord(text, q)) (found ??= []).push(q);
    }
  }
  if (found === undefined) return redactUnquotedIdentifiedBy(text, count);
  found.sort((a, b) => a - b);
  let out = '';
  let copied = 0;
  for (const q of found) {
    if (q < copied) continue;
    let open = text[q]!;
    if (open === '$') {
      DOLLAR_TAG.lastIndex = q;
      const tag = DOLLAR_TAG.exec(text);
      if (!tag) continue;
      open = tag[0];
    }
    const from = q + open.length;
    let close = -1;
    if (open.length === 1) {
      for (let i = from; i < text.length && i - from <= 1024; i++) {
        const c = text[i];
        if (c === '\\') i++;
        else if (c === open) {
          if (text[i + 1] === open) i++;
          else {
            close = i;
            break;
          }
        }
      }
    } else {
      // Within 1,024 characters (a search to the text's end for each unclosed tag would be quadratic).
      const at = text.slice(from, from + 1024 + open.length).indexOf(open);
      close = at === -1 ? -1 : from + at;
    }
    // Nothing to hide, or masked already (a SQL literal in db.statement is '?').
    if (close === -1 || close === from || text.startsWith('<redacted:', from) || (close === from + 1 && text[from] === '?')) continue;
    count('secretAssignment');
    out += text.slice(copied, from) + mask('secretAssignment');
    copied = close + open.length;
    out += text.slice(close, copied);
  }
  const quoted = copied === 0 ? text : out + text.slice(copied);
  return redactUnquotedIdentifiedBy(quoted, count);
}

// Oracle's `CREATE|ALTER USER u IDENTIFIED BY secret` (and `GRANT … TO u IDENTIFIED BY secret`)
// takes the password unquoted, as an identifier (`IDENTIFIED BY VALUES '…'` gives a hash: left).
// The user clause before it keeps prose ("a request identified by its id") unmasked. Bounded
// quantifiers, no nesting. A quote after BY is the quoted form above.
const IDENTIFIED = /identified/i;
const IDENTIFIED_BY_UNQUOTED = /\b(?:user|to)[ \t\n]{1,8}[^\s]{1,128}[ \t\n]{1,8}identified[ \t\n]{1,8}by[ \t\n]{1,8}(?!values\b)([A-Za-z_][A-Za-z0-9_#$]{0,127})/gi;

function redactUnquotedIdentifiedBy(text: string, count: (r: RuleName) => void): string {
  if (!IDENTIFIED.test(text)) return text; // one plain scan for the text without it: nearly all
  return text.replace(IDENTIFIED_BY_UNQUOTED, (all: string, secret: string) => {
    count('secretAssignment');
    return all.slice(0, all.length - secret.length) + mask('secretAssignment');
  });
}

// A long option on a command line (`--db-password hunter2`, `--token "a b"`): at the start or after
// white space or a quote, its name, then white space and a value that is not another option. The
// `--name=value` form is an assignment already.
const LONG_OPTION = /(?<![^\s"'])--([A-Za-z][A-Za-z0-9_.-]{0,63})[ \t]{1,8}(?=[^\s-])/g;
const OPTION_VALUE = /"(?:[^"\\\r\n]|\\.){0,1024}"?|'(?:[^'\\\r\n]|\\.){0,1024}'?|[^\s"']{1,1024}/y;
// MySQL's `-p<password>` (no space: with one, the next word is the database), after a mysql or
// mariadb command word earlier on the same line (MYSQL_BEFORE, on at most 512 characters before it).
const MYSQL_PASSWORD = /(?<=\s)-p([^\s"']{1,1024})/g;
const MYSQL_BEFORE = /\b(?:mysql|mariadb)[a-z]*\s[^\r\n]*$/;
export const MYSQL_COMMAND = /^(?:.*\/)?(?:mysql|mariadb)[a-z]*$/;

/**
 * Passwords on command lines in text (`process.command_line`, a log of how something was started):
 * the value after a long option whose name's words name a secret (`isKey`: `--password x`,
 * `--db-password x`, `--api-token x`), and MySQL's `-pSECRET`. `process.command_args`, a list, is
 * read element by element by the processor (redactArgs).
 */
function redactCommandLine(text: string, isKey: (key: string) => boolean, count: (r: RuleName) => void): string {
  let t = text;
  if (t.includes('--')) {
    let out = '';
    let copied = 0;
    LONG_OPTION.lastIndex = 0;
    for (let m = LONG_OPTION.exec(t); m !== null; m = LONG_OPTION.exec(t)) {
      if (!isKey(m[1]!)) continue;
      const at = m.index + m[0].length;
      OPTION_VALUE.lastIndex = at;
      const v = OPTION_VALUE.exec(t);
      if (!v || v[0].startsWith('<redacted:')) continue;
      const q = v[0][0] === '"' || v[0][0] === "'" ? v[0][0] : '';
      const closed = q !== '' && v[0].length > 1 && v[0].endsWith(q);
      count('secretAssignment');
      out += t.slice(copied, at) + q + mask('secretAssignment') + (closed ? q : '');
      copied = at + v[0].length;
      LONG_OPTION.lastIndex = copied;
    }
    if (copied !== 0) t = out + t.slice(copied);
  }
  // `-p` first: `includes` is slow for a pattern starting with a character prose is full of (' -p', 'mysql').
  if (t.includes('-p') && (t.includes('mysql') || t.includes('mariadb'))) {
    t = t.replace(MYSQL_PASSWORD, (all: string, pw: string, at: number, whole: string) =>
      pw.startsWith('<redacted:') || !MYSQL_BEFORE.test(whole.slice(Math.max(0, at - 512), at)) ? all : (count('secretAssignment'), `-p${mask('secretAssignment')}`),
    );
  }
  return t;
}

/**
 * A command's arguments as a list (`process.command_args`): the element after a long option whose
 * name names a secret (`["app", "--db-password", "hunter2"]`), and `-pSECRET` when the command is
 * mysql or mariadb, become the marker. The indexes of the elements to mask, none when there are none.
 */
export function secretArgs(args: readonly (string | undefined)[], isKey: (key: string) => boolean): number[] {
  const out: number[] = [];
  const mysql = args[0] !== undefined && MYSQL_COMMAND.test(args[0]);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === undefined || a.charCodeAt(0) !== 45) continue;
    if (mysql && a.length > 2 && a.startsWith('-p') && !a.startsWith('-p<redacted:')) out.push(i);
    else if (a.startsWith('--') && !a.includes('=') && a.length > 2 && isKey(a.slice(2))) {
      const next = args[i + 1];
      if (next !== undefined && next !== '' && next.charCodeAt(0) !== 45 && !next.startsWith('<redacted:')) out.push(++i);
    }
  }
  return out;
}

export interface TextOptions {
  /** Which `key=value` keys hold secrets (the secretAssignment rule); ASSIGNMENT_KEYS by default. */
  assignmentKey?: (key: string) => boolean;
  /**
   * The text is the value of a key that names a card (isCardKey): a lone 17–19-digit number in it
   * needs no other sign of a card (LONE_CONTEXT_DIGITS).
   */
  cardKey?: boolean;
}

// `<password>hunter2</password>`, `<ns:Token attr="1"><![CDATA[…]]></ns:Token>`: an element whose
// name is a secret key, with text or CDATA only inside. Each `<` starts at most one scan, which
// ends at the next `<` (text, however long) or within 1,024 characters (CDATA, which may hold `<`),
// so the work stays linear.
const XML_ELEMENT = /<([A-Za-z_][A-Za-z0-9_.:-]{0,127})(\s[^<>]{0,1024})?>(<!\[CDATA\[(?:[^\]]|\](?!\]>)){0,1024}\]\]>|[^<]+)<\/\1\s{0,8}>/g;

function redactXmlElements(text: string, isKey: (key: string) => boolean, count: (r: RuleName) => void): string {
  return text.replace(XML_ELEMENT, (whole: string, name: string, attributes: string | undefined, inner: string) => {
    const local = name.slice(name.lastIndexOf(':') + 1); // without its namespace prefix
    if (!isKey(local) || inner.trim() === '') return whole;
    count('secretAssignment');
    return `<${name}${attributes ?? ''}>${mask('secretAssignment')}</${name}>`;
  });
}

/** Masks what `rules` name in free text. `count` is called once per masked occurrence. */
export function redactText(text: string, rules: ReadonlySet<RuleName>, count: (r: RuleName) => void, options: TextOptions = {}): string {
  let t = text;
  if (rules.has('bearerToken')) {
    t = t.replace(BEARER, (m: string, scheme: string, token: string, at: number, whole: string) =>
      bearerCredential(scheme, token, whole, at) ? (count('bearerToken'), `${scheme} ${mask('bearerToken')}`) : m,
    );
    if (t.includes('eyJ')) t = t.replace(JWT, () => (count('bearerToken'), mask('bearerToken')));
  }
  if (rules.has('apiKey')) {
    t = t.replace(API_KEYS, () => (count('apiKey'), mask('apiKey')));
    if (hasMoreKeys(t)) t = t.replace(MORE_KEYS, () => (count('apiKey'), mask('apiKey')));
    if (t.includes('-----BEGIN ')) t = redactPrivateKeys(t, count);
  }
  if (rules.has('urlPassword') && t.includes('://')) t = t.replace(URL_PASSWORD, (_m, user: string) => (count('urlPassword'), `://${user}:${mask('urlPassword')}@`));
  if (rules.has('secretAssignment')) {
    const isKey = options.assignmentKey ?? assignmentKeyDefault;
    t = redactAssignments(t, isKey, count);
    t = redactSqlPasswords(t, count);
    t = redactCommandLine(t, isKey, count);
    if (t.includes('</')) t = redactXmlElements(t, isKey, count);
  }
  if (rules.has('email')) t = redactEmails(t, count);
  if (rules.has('creditCard')) t = redactCards(t, count, options.cardKey === true);
  return t;
}

/**
 * SQL statements: every string literal becomes '?' (passwords, e-mails, names in WHERE clauses):
 * '…', $$…$$ and $tag$…$tag$ (PostgreSQL), and "…" unless `quotedStrings` is false (the statement's
 * `db.system` quotes identifiers that way: sqlDoubleQuotesAreIdentifiers), so MySQL's
 * `IDENTIFIED BY "hunter2"` is masked and PostgreSQL's `"orders"."email"` kept. An unclosed dollar
 * quote runs to the end (a cut statement). Linear: a dollar tag with no closing one is looked for
 * once, and after 16 such tags no more are (a sender's own hostile statement).
 */
export function redactSqlLiterals(sql: string, count: (r: RuleName) => void, quotedStrings = true): string {
  if (!sql.includes("'") && !sql.includes('$') && !(quotedStrings && sql.includes('"'))) return sql;
  let out = '';
  let copied = 0;
  let unclosedTags = 0;
  SQL_QUOTED.lastIndex = 0;
  for (let m = SQL_QUOTED.exec(sql); m !== null; m = SQL_QUOTED.exec(sql)) {
    const open = m[0];
    let end = m.index + open.length;
    let marker = "'?'";
    if (open[0] === '"') {
      if (!quotedStrings) continue; // an identifier: kept, and a quote inside it opens nothing
      marker = '"?"';
    } else if (open[0] === '$') {
      if (unclosedTags >= 16) continue;
      const close = sql.indexOf(open, end);
      if (close === -1) unclosedTags++;
      end = close === -1 ? sql.length : close + open.length;
      marker = '$$?$$';
      SQL_QUOTED.lastIndex = end;
    }
    count('sqlLiteral');
    out += sql.slice(copied, m.index) + marker;
    copied = end;
  }
  return copied === 0 ? sql : out + sql.slice(copied);
}

/**
 * `db.system` / `db.system.name` values whose SQL reads "…" as an identifier (the SQL standard);
 * elsewhere (MySQL, MariaDB, SQLite's fallback, an unknown system) it may be a string and is masked.
 */
const IDENTIFIER_QUOTE_SYSTEMS = new Set([
  'postgresql', 'oracle', 'oracle.db', 'mssql', 'microsoft.sql_server', 'db2', 'ibm.db2', 'cockroachdb', 'redshift', 'aws.redshift', 'snowflake',
  'clickhouse', 'trino', 'h2', 'hsqldb', 'derby', 'hanadb', 'sap.hana', 'teradata', 'vertica', 'spanner', 'gcp.spanner', 'duckdb', 'firebird', 'informix', 'ingres',
]);
export const sqlDoubleQuotesAreIdentifiers = (dbSystem: string | undefined) => dbSystem !== undefined && IDENTIFIER_QUOTE_SYSTEMS.has(dbSystem.toLowerCase());

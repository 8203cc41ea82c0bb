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

/** Keys whose value `key=value` / `"key": "value"` text is masked by the secretAssignment rule. */
/**
 * A card's verification code (CVV, CVC, CSC): three or four digits no rule could tell from any other
 * number, and data PCI DSS forbids storing at all once a payment is authorised, so its keys are
 * secret keys (their values masked whole, in attributes and in `key=value` text).
 */
export const CARD_CODE_KEYS = ['cvv', 'cvv2', 'cvc', 'cvc2', 'csc', 'security_code'];

export const ASSIGNMENT_KEYS = ['password', 'passwd', 'pwd', 'secret', 'token', 'api_key', 'apikey', 'access_key', 'accesskey', 'private_key', 'credentials', ...CARD_CODE_KEYS];

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

const assignmentKeyDefault = keyMatcher(ASSIGNMENT_KEYS);

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

/** Where the next group of a run starts (one space or hyphen, then 3 digits or more), or -1. */
function nextGroup(text: string, end: number): number {
  const c = text.charCodeAt(end);
  return (c === 32 || c === 45) && isDigit(text.charCodeAt(end + 1)) && isDigit(text.charCodeAt(end + 2)) && isDigit(text.charCodeAt(end + 3)) ? end + 1 : -1;
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
const BIG_GROUP = /(?<!\d)(?:\d{13}\d*|\d{3}\d*(?=[ -]\d{3}))/g;

/**
 * Masks card numbers. A card is whole groups of a run of digit groups separated by one space or
 * hyphen: one group of 13–19 digits, or consecutive groups of 3 digits or more (`4111 1111 1111
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

const BEARER = /\b(Bearer|Basic|Token|Digest)\s+[A-Za-z0-9\-._~+/]{8,4096}=*/gi;
const JWT = /\beyJ[A-Za-z0-9_-]{1,4096}\.eyJ[A-Za-z0-9_-]{1,8192}\.[A-Za-z0-9_-]{0,4096}/g;
const API_KEYS = /\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,200}|sk_(?:live|test)_[A-Za-z0-9]{16,200}|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}|xox[abprs]-[A-Za-z0-9-]{10,200}|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20,200})/g;
// `scheme://user:password@host`: the user may be empty (`redis://:pw@host`) and hold an '@'
// (`user@corp.com`); the password runs to the last '@' of the authority, which ends at '/', '?',
// '#' or white space (RFC 3986), so `p@ss` is masked whole.
const URL_PASSWORD = /:\/\/([^\s:/?#]{0,256}):([^\s/?#]{1,256})@/g;
const SQL_LITERAL = /'(?:[^']|''){0,100000}'/g;
// `key=value`, `key: value`, `"key": "value"`, `\"key\":\"value\"`: a key (any name: which keys
// count is decided on its words, as for attribute keys), an optional closing quote, the separator.
// The lookbehind starts a key only where a name starts, so each position is tried once.
const ASSIGNMENT = /(?<![A-Za-z0-9_.-])([A-Za-z0-9_.-]{1,128})(\\?["'])?(\s{0,8}[=:]\s{0,8})/g;
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

const isWordChar = (c: number) => isDigit(c) || isLetter(c) || c === 95;

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
    }
    const close = open !== '' && value.length >= 2 * open.length && value.endsWith(open) ? open : '';
    const inner = value.slice(open.length, value.length - close.length);
    ASSIGNMENT.lastIndex = at + value.length;
    // Nothing to hide, or already masked (a SQL literal, a token another rule found). In JSON,
    // null, true and false are not secrets.
    if (inner === '' || (inner === '?' && open === "'") || inner.startsWith('<redacted:')) continue;
    if (json !== '' && (inner === 'null' || inner === 'true' || inner === 'false')) continue;
    count('secretAssignment');
    // A bare JSON value (a number, or text a sender did not quote) becomes a JSON string.
    out += text.slice(copied, at) + (open || json) + mask('secretAssignment') + (close || json);
    copied = at + value.length;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

// E-mails are found by scanning from each '@' (a regex would retry the local part at every start).
const EMAIL_LOCAL = new Uint8Array(128);
const EMAIL_DOMAIN = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  EMAIL_LOCAL[c] = /[A-Za-z0-9._%+-]/.test(ch) ? 1 : 0;
  EMAIL_DOMAIN[c] = /[A-Za-z0-9.-]/.test(ch) ? 1 : 0;
}
const inTable = (table: Uint8Array, c: number) => c < 128 && table[c] === 1;

function redactEmails(text: string, count: (r: RuleName) => void): string {
  if (!text.includes('@')) return text;
  let out = '';
  let last = 0;
  let at = text.indexOf('@');
  while (at !== -1) {
    let start = at;
    while (start > last && at - start < 64 && inTable(EMAIL_LOCAL, text.charCodeAt(start - 1))) start--;
    let end = at + 1;
    while (end < text.length && end - at < 254 && inTable(EMAIL_DOMAIN, text.charCodeAt(end))) end++;
    while (end > at + 1 && text.charCodeAt(end - 1) === 46) end--; // a sentence's full stop
    // A top-level domain of 2–24 letters after the last dot.
    let dot = end;
    while (dot > at + 1 && isLetter(text.charCodeAt(dot - 1))) dot--;
    const tld = end - dot;
    if (start < at && tld >= 2 && tld <= 24 && dot - 1 > at + 1 && text.charCodeAt(dot - 1) === 46) {
      out += text.slice(last, start) + mask('email');
      count('email');
      last = end;
    }
    at = text.indexOf('@', Math.max(at + 1, last));
  }
  return out + text.slice(last);
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

/** Masks what `rules` name in free text. `count` is called once per masked occurrence. */
export function redactText(text: string, rules: ReadonlySet<RuleName>, count: (r: RuleName) => void, options: TextOptions = {}): string {
  let t = text;
  if (rules.has('bearerToken')) {
    t = t.replace(BEARER, (_m, scheme: string) => (count('bearerToken'), `${scheme} ${mask('bearerToken')}`));
    if (t.includes('eyJ')) t = t.replace(JWT, () => (count('bearerToken'), mask('bearerToken')));
  }
  if (rules.has('apiKey')) t = t.replace(API_KEYS, () => (count('apiKey'), mask('apiKey')));
  if (rules.has('urlPassword') && t.includes('://')) t = t.replace(URL_PASSWORD, (_m, user: string) => (count('urlPassword'), `://${user}:${mask('urlPassword')}@`));
  if (rules.has('secretAssignment')) t = redactAssignments(t, options.assignmentKey ?? assignmentKeyDefault, count);
  if (rules.has('email')) t = redactEmails(t, count);
  if (rules.has('creditCard')) t = redactCards(t, count, options.cardKey === true);
  return t;
}

/** SQL statements: every string literal becomes '?' (passwords, e-mails, names in WHERE clauses). */
export function redactSqlLiterals(sql: string, count: (r: RuleName) => void): string {
  return sql.includes("'") ? sql.replace(SQL_LITERAL, () => (count('sqlLiteral'), "'?'")) : sql;
}

// What the redaction processor masks, as functions over one string. Every pattern is anchored on a
// literal or a word boundary and has bounded repetition, so the work is linear in the text's length
// whatever a sender puts in it (no catastrophic backtracking); e-mails are found by scanning from
// each '@' instead of a regex.

export const RULES = ['creditCard', 'email', 'bearerToken', 'apiKey', 'urlPassword', 'sqlLiteral', 'secretAssignment'] as const;
export type RuleName = (typeof RULES)[number];

const mask = (rule: RuleName) => `<redacted:${rule}>`;

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

const CARD = /\b\d(?:[ -]?\d){12,18}\b/g;
const BEARER = /\b(Bearer|Basic|Token|Digest)\s+[A-Za-z0-9\-._~+/]{8,4096}=*/gi;
const JWT = /\beyJ[A-Za-z0-9_-]{1,4096}\.eyJ[A-Za-z0-9_-]{1,8192}\.[A-Za-z0-9_-]{0,4096}/g;
const API_KEYS = /\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,200}|sk_(?:live|test)_[A-Za-z0-9]{16,200}|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}|xox[abprs]-[A-Za-z0-9-]{10,200}|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20,200})/g;
const URL_PASSWORD = /:\/\/([^\s:/@]{1,256}):([^\s/@]{1,256})@/g;
const SQL_LITERAL = /'(?:[^']|''){0,100000}'/g;
const SECRET_ASSIGNMENT = /\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|client[_-]?secret)(\s{0,8}[=:]\s{0,8})("[^"]{0,1024}"|'[^']{0,1024}'|[^\s&;,'"]{1,1024})/gi;

const EMAIL_LOCAL = /[A-Za-z0-9._%+-]/;
const EMAIL_DOMAIN = /[A-Za-z0-9.-]/;

function redactEmails(text: string, count: (r: RuleName) => void): string {
  if (!text.includes('@')) return text;
  let out = '';
  let last = 0;
  let at = text.indexOf('@');
  while (at !== -1) {
    let start = at;
    while (start > last && at - start < 64 && EMAIL_LOCAL.test(text[start - 1]!)) start--;
    let end = at + 1;
    while (end < text.length && end - at < 254 && EMAIL_DOMAIN.test(text[end]!)) end++;
    const domain = text.slice(at + 1, end).replace(/\.+$/, '');
    const dot = domain.lastIndexOf('.');
    if (start < at && dot > 0 && /^[A-Za-z]{2,24}$/.test(domain.slice(dot + 1))) {
      out += text.slice(last, start) + mask('email');
      count('email');
      last = at + 1 + domain.length;
    }
    at = text.indexOf('@', Math.max(at + 1, last));
  }
  return out + text.slice(last);
}

/** Masks what `rules` name in free text. `count` is called once per masked occurrence. */
export function redactText(text: string, rules: ReadonlySet<RuleName>, count: (r: RuleName) => void): string {
  let t = text;
  if (rules.has('bearerToken')) {
    t = t.replace(BEARER, (_m, scheme: string) => (count('bearerToken'), `${scheme} ${mask('bearerToken')}`));
    t = t.replace(JWT, () => (count('bearerToken'), mask('bearerToken')));
  }
  if (rules.has('apiKey')) t = t.replace(API_KEYS, () => (count('apiKey'), mask('apiKey')));
  if (rules.has('urlPassword') && t.includes('://')) t = t.replace(URL_PASSWORD, (_m, user: string) => (count('urlPassword'), `://${user}:${mask('urlPassword')}@`));
  if (rules.has('secretAssignment')) {
    t = t.replace(SECRET_ASSIGNMENT, (m, key: string, sep: string, value: string) => {
      if (value === "'?'" || value.startsWith('<redacted:')) return m; // already masked (SQL literal, token)
      count('secretAssignment');
      return `${key}${sep}${mask('secretAssignment')}`;
    });
  }
  if (rules.has('email')) t = redactEmails(t, count);
  if (rules.has('creditCard')) {
    t = t.replace(CARD, (m) => {
      const digits = m.replace(/[ -]/g, '');
      if (digits.length < 13 || digits.length > 19 || !luhn(digits)) return m;
      count('creditCard');
      return mask('creditCard');
    });
  }
  return t;
}

/** SQL statements: every string literal becomes '?' (passwords, e-mails, names in WHERE clauses). */
export function redactSqlLiterals(sql: string, count: (r: RuleName) => void): string {
  return sql.includes("'") ? sql.replace(SQL_LITERAL, () => (count('sqlLiteral'), "'?'")) : sql;
}

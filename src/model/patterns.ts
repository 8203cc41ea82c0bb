// Text patterns built from user-supplied strings: one escaping rule for every place that turns a
// literal or a `*` wildcard pattern into a regular expression.

/** `text` as a regular-expression literal: every metacharacter escaped (JavaScript, RE2 and PromQL regexes alike). */
export const regexEscape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A pattern in which `*` matches any run of characters and everything else itself, anchored at both ends. */
export const wildcardRegExp = (pattern: string): RegExp => new RegExp(`^${pattern.split('*').map(regexEscape).join('.*')}$`);

// A PromQL string literal: the value in double quotes with JSON's escapes (`\"`, `\\`, `\n`, `\uXXXX`),
// which PromQL reads as Go does. Label values and regexes of matchers the gateway builds go through
// here, so no value (a newline, a quote) can end the string early or change the query.
import { wellFormed } from '../../model/values.ts';

/**
 * A lone UTF-16 surrogate, which Go cannot unquote, becomes U+FFFD, as the exporter stores it;
 * U+FFFD itself is written as an escape, since PromQL's lexer takes the character for invalid UTF-8.
 */
export const promqlString = (value: string): string => JSON.stringify(wellFormed(value)).replace(/\ufffd/g, '\\ufffd');

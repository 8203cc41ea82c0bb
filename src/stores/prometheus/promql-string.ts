// A PromQL string literal: the value in double quotes with JSON's escapes (`\"`, `\\`, `\n`, `\uXXXX`),
// which PromQL reads as Go does. Label values and regexes of matchers the gateway builds go through
// here, so no value (a newline, a quote) can end the string early or change the query.

export const promqlString = (value: string): string => JSON.stringify(value);

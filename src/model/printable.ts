// Untrusted text (telemetry comes from whoever can send it) shown on one line: by `teleql tail` in a
// terminal, and in a Slack message's alert lines, where a line break in a label value would start
// a line of its own that reads like another alert.

const LINE_BREAK = /\s*[\r\n\u2028\u2029]\s*/g;
/**
 * What a terminal acts on rather than shows: C0 controls (ESC starts colour, cursor and title
 * sequences; BS and CR overwrite), DEL, C1 controls (U+009B is a one-character CSI) and the bidi
 * embeddings, overrides and isolates, which reorder what the rest of the line shows.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * A field of untrusted text as one line shown as it is: line breaks as ` ⏎ `, a tab as a space, any
 * other control character escaped as `\x1b` (`\u202e` past U+00FF). (`teleql tail --json` keeps it exact.)
 */
export function printable(text: string): string {
  return text
    .replace(LINE_BREAK, ' ⏎ ')
    .replaceAll('\t', ' ')
    .replace(CONTROL, (c) => {
      const code = c.charCodeAt(0);
      return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
    });
}

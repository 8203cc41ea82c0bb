// Exception fingerprints: the exception type plus the stack frames with everything that changes
// between occurrences of the same bug removed (line and column numbers, addresses, IDs, numbers),
// hashed. The message is left out on purpose: it usually carries the order ID, the user, the value.
// Handles Java/.NET (`at …`), Python (`File "…", line N, in f`), Node (`at f (file:line:col)`)
// and Go (goroutine dumps: function line + `\tfile.go:N +0x1d`).
import { createHash } from 'node:crypto';

const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
const HEX_ADDRESS = /\b0x[0-9a-f]+\??/gi;
// Hashes and IDs in names (bundles `main.3f2a9c1b.js`, generated classes, `$$Lambda/0x…`).
const LONG_HEX = /\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b/gi;
const NUMBER = /\d+/g;
const LINE_INFO = [
  /\s\+0x[0-9a-f]+$/gi, // Go `+0x1d`, before the `:42` it follows
  /, line \d+/g, // Python
  /:line \d+/g, // .NET
  /(:\d+)+(?=\)?\s*$)/g, // Node/Java `file:line:col`, Go `file.go:42`
  /(:\d+)+(?=\))/g, // Java `(File.java:87)`
];

/** Frames kept for the fingerprint, at most; deeper frames rarely tell two bugs apart. */
export const MAX_FRAMES = 64;

function stripVariableParts(line: string): string {
  let out = line;
  for (const re of LINE_INFO) out = out.replace(re, '');
  return out
    .replace(/file:\/\//g, '')
    .replace(/\?[^\s:)]*/g, '') // query strings on bundled script URLs
    .replace(UUID, '')
    .replace(HEX_ADDRESS, '')
    .replace(LONG_HEX, '')
    .replace(NUMBER, '')
    .replace(/\s+/g, ' ')
    .trim();
}

const JAVA_OR_NODE_FRAME = /^at\s+/;
const PYTHON_FRAME = /^File\s+"([^"]*)",\s*line\s+\d+(?:,\s*in\s+(.*))?/;
const CAUSED_BY = /^Caused by:\s*([^:\s]+)/;
const GO_GOROUTINE = /^goroutine\s+\d+\s+\[/;
const OMITTED = /^\.\.\.\s*\d+\s+(more|common frames omitted)/;

/** The stack's frames, normalised, in order, consecutive repeats (recursion) collapsed. */
export function normaliseFrames(stacktrace: string): string[] {
  const frames: string[] = [];
  let inGo = false;
  for (const raw of stacktrace.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || OMITTED.test(line)) continue;
    if (GO_GOROUTINE.test(line)) {
      inGo = true;
      continue;
    }
    let frame: string | null = null;
    const py = PYTHON_FRAME.exec(line);
    const cause = CAUSED_BY.exec(line);
    if (py) {
      // Installed packages live under different prefixes on different hosts.
      const file = py[1]!.replace(/^.*\/(site|dist)-packages\//, '');
      frame = `${file} in ${py[2] ?? ''}`;
    } else if (cause) {
      frame = `caused by ${cause[1]}`;
    } else if (JAVA_OR_NODE_FRAME.test(line)) {
      frame = line;
    } else if (inGo) {
      // Function lines lose their argument words (pointers, lengths); file lines their position.
      frame = /^[^/\s].*\(.*\)$/.test(line) ? line.replace(/\([^()]*\)$/, '()') : line;
    }
    if (frame === null) continue;
    const normalised = stripVariableParts(frame);
    if (normalised && frames[frames.length - 1] !== normalised) frames.push(normalised);
    if (frames.length >= MAX_FRAMES) break;
  }
  return frames;
}

/**
 * The exception type when the record does not say: Java/Node/.NET put `Type: message` on the first
 * line, Python on the last line, Go dumps start with `panic: `.
 */
export function exceptionTypeFromStack(stacktrace: string): string {
  const lines = stacktrace.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) return '';
  const first = lines[0]!.trim();
  if (first.startsWith('Traceback')) {
    const last = [...lines].reverse().find((l) => !/^\s/.test(l) && !l.startsWith('Traceback'));
    return last ? (last.split(':', 1)[0] ?? '').trim() : '';
  }
  if (first.startsWith('panic:')) return 'panic';
  const head = first.split(':', 1)[0]!.trim();
  return /^[\w.$<>]+$/.test(head) ? head : '';
}

export interface ExceptionIdentity {
  type: string;
  stacktrace: string;
}

/** 16 hex characters; equal for occurrences that differ only in message, numbers, IDs and lines. */
export function exceptionFingerprint(e: ExceptionIdentity): string {
  const type = e.type || exceptionTypeFromStack(e.stacktrace);
  const frames = normaliseFrames(e.stacktrace);
  return createHash('sha256').update(`${type}\n${frames.join('\n')}`).digest('hex').slice(0, 16);
}

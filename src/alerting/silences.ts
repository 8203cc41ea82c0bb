// Silences as Alertmanager has them: label matchers (=, !=, =~, !~; regexes anchored at both ends)
// and a time window. A silenced alert still changes state and is recorded; it is not notified.
import { createHash, randomUUID } from 'node:crypto';
import { compileRegex, regexMatches } from '../stores/filter-match.ts';
import { AlertingError, type Matcher, type MatcherType, type Silence } from './types.ts';

const TYPES: readonly MatcherType[] = ['=', '!=', '=~', '!~'];
// As alert labels are named (rules.ts): a matcher on any other name could never match.
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function compileMatcher(m: Matcher): (labels: Record<string, string>) => boolean {
  // A missing label reads as "" (as in Alertmanager), so `foo!=""` means "foo is set".
  if (m.type === '=') return (l) => (l[m.name] ?? '') === m.value;
  if (m.type === '!=') return (l) => (l[m.name] ?? '') !== m.value;
  // RE2 syntax, anchored, as Alertmanager's; compiled as the filters' regexes are, so no pattern
  // can backtrack for seconds on the event loop every tenant shares.
  const re = compileRegex(m.value, 'alerting');
  if (m.type === '=~') return (l) => regexMatches(re, l[m.name] ?? '');
  return (l) => !regexMatches(re, l[m.name] ?? '');
}

export function checkMatchers(raw: unknown): Matcher[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new AlertingError('BAD_SILENCE', 'a silence needs at least one matcher');
  return raw.map((m: unknown, i) => {
    const { name, value, type } = (m ?? {}) as Partial<Matcher>;
    if (typeof name !== 'string' || name === '') throw new AlertingError('BAD_SILENCE', `matchers[${i}].name: required`);
    if (!LABEL_NAME.test(name)) throw new AlertingError('BAD_SILENCE', `matchers[${i}].name: a label name must match [a-zA-Z_][a-zA-Z0-9_]* (actual: ${JSON.stringify(name)})`);
    if (typeof value !== 'string') throw new AlertingError('BAD_SILENCE', `matchers[${i}].value: required`);
    if (!TYPES.includes(type as MatcherType)) throw new AlertingError('BAD_SILENCE', `matchers[${i}].type: expected one of ${TYPES.join(' ')}`);
    const matcher = { name, value, type: type as MatcherType };
    try {
      compileMatcher(matcher);
    } catch (err) {
      throw new AlertingError('BAD_SILENCE', `matchers[${i}].value: ${(err as Error).message}`);
    }
    return matcher;
  });
}

export interface SilenceInput {
  matchers: unknown;
  /** Default: now. */
  startsAt?: bigint | null;
  /** Exactly one of endsAt and duration (from startsAt). */
  endsAt?: bigint | null;
  duration?: bigint | null;
  createdBy?: string | null;
  comment?: string | null;
}

/** `now` is the engine's clock, so a silence given as a duration ends by the same time as alerts are evaluated. */
export function newSilence(tenant: string, input: SilenceInput, now: bigint): Silence {
  const matchers = checkMatchers(input.matchers);
  // As Alertmanager: matchers that all match "" select alerts by labels they lack, so
  // alertname=~".*" would mute every alert of the tenant by accident.
  if (matchers.every((m) => compileMatcher(m)({}))) {
    throw new AlertingError('BAD_SILENCE', 'matchers: at least one matcher must not match the empty string (as in Alertmanager); alertname=~".*", say, would silence every alert of this tenant');
  }
  if ((input.endsAt == null) === (input.duration == null)) throw new AlertingError('BAD_SILENCE', 'set exactly one of endsAt and duration');
  if (input.duration != null && input.duration <= 0n) throw new AlertingError('BAD_SILENCE', 'duration: must be greater than 0');
  const startsAt = input.startsAt ?? now;
  const endsAt = input.endsAt ?? startsAt + input.duration!;
  if (endsAt <= startsAt) {
    // startsAt defaults to now, so say which time it was.
    throw new AlertingError('BAD_SILENCE', `endsAt (${isoTime(endsAt)}) must be after startsAt (${isoTime(startsAt)}${input.startsAt == null ? ', now' : ''})`);
  }
  return { id: randomUUID(), tenant, matchers, startsAt, endsAt, createdBy: input.createdBy ?? '', comment: input.comment ?? '' };
}

const isoTime = (ns: bigint) => new Date(Number(ns / 1_000_000n)).toISOString();

export function silenceActive(s: Silence, now: bigint): boolean {
  return s.startsAt <= now && now < s.endsAt;
}

type CompiledMatcher = (labels: Record<string, string>) => boolean;
/**
 * Each silence's matchers, compiled once (a silence's matchers never change), or why they do not
 * compile: a silence stored by an earlier version may hold a regex this version refuses.
 */
const compiledSilences = new WeakMap<Silence, CompiledMatcher[] | string>();

function compiledMatchers(s: Silence): CompiledMatcher[] | string {
  let compiled = compiledSilences.get(s);
  if (compiled === undefined) {
    try {
      compiled = s.matchers.map(compileMatcher);
    } catch (err) {
      compiled = `a matcher this version refuses, so it silences nothing: ${(err as Error).message}`;
    }
    compiledSilences.set(s, compiled);
  }
  return compiled;
}

/** Why the silence silences nothing (a stored matcher this version refuses), or null. */
export function silenceProblem(s: Silence): string | null {
  const compiled = compiledMatchers(s);
  return typeof compiled === 'string' ? compiled : null;
}

/**
 * Whether every matcher holds. A silence whose matchers do not compile matches nothing: muting what
 * its author meant cannot be known, and failing would fail every evaluation of its tenant's rules.
 */
export function silenceMatches(s: Silence, labels: Record<string, string>): boolean {
  const compiled = compiledMatchers(s);
  return typeof compiled !== 'string' && compiled.every((m) => m(labels));
}

const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const U64 = (1n << 64n) - 1n;
const utf8 = new TextEncoder();

/**
 * Alertmanager's fingerprint of a label set (prometheus/common model.LabelSet.Fingerprint): FNV-1a
 * 64 over the label names in sorted order, each name and value followed by the 0xff separator byte,
 * as 16 hex digits. What Alertmanager's webhook, API and amtool show for an alert of these labels.
 */
export function alertmanagerFingerprint(labels: Record<string, string>): string {
  let h = FNV64_OFFSET;
  const add = (bytes: Uint8Array) => {
    for (const b of bytes) h = ((h ^ BigInt(b)) * FNV64_PRIME) & U64;
  };
  const separator = Uint8Array.of(0xff);
  for (const name of Object.keys(labels).sort()) {
    add(utf8.encode(name));
    add(separator);
    add(utf8.encode(labels[name]!));
    add(separator);
  }
  return h.toString(16).padStart(16, '0');
}

/** Stable ID of a label set within a rule (rule + labels is the deduplication key). */
export function fingerprint(ruleId: string, labels: Record<string, string>): string {
  const h = createHash('sha256');
  h.update(ruleId);
  for (const k of Object.keys(labels).sort()) h.update(`\u0000${k}\u0001${labels[k]}`);
  return h.digest('hex').slice(0, 16);
}


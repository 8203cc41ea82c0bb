// Structured JSON logs with pino: one root logger, one child per component (`component` field).
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export function createRootLogger(level: LevelWithSilent = 'info', destination?: pino.DestinationStream): Logger {
  // errWithCause: an error's `cause` is its own object. pino's default serializer appends every
  // cause's message to the error's, and ours already say what caused them ("…: No space left on
  // device (still failing after 10 attempts…)"), so a DuckDB failure read three times in one line.
  return pino({ level, base: { service: 'teleql' }, timestamp: pino.stdTimeFunctions.isoTime, serializers: { err: pino.stdSerializers.errWithCause } }, destination);
}

export function componentLogger(root: Logger, component: string): Logger {
  return root.child({ component });
}

/** A logger that writes nowhere, for tests and benchmarks that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * One log line at most every `everyMs` for what can happen many times a second (refused
 * connections, failed publishes), so a flood cannot flood the log: each call counts an occurrence
 * and, once the interval since the last line has passed, calls `write` with how many occurrences the
 * line stands for.
 */
export function throttledLog(everyMs: number): (write: (occurrences: number) => void) => void {
  let lastAt = -Infinity;
  let occurrences = 0;
  return (write) => {
    occurrences++;
    const now = performance.now();
    if (now - lastAt < everyMs) return;
    lastAt = now;
    const n = occurrences;
    occurrences = 0;
    write(n);
  };
}

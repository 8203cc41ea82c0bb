// Structured JSON logs with pino: one root logger, one child per component (`component` field).
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export function createRootLogger(level: LevelWithSilent = 'info', destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'teleql' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

export function componentLogger(root: Logger, component: string): Logger {
  return root.child({ component });
}

/** A logger that writes nowhere, for tests and benchmarks that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

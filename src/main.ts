// The `teleql` command. The only module that calls process.exit.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig, ENV_VARS } from './config/load.ts';
import { ConfigError } from './config/merge.ts';
import { buildApp } from './app.ts';
import { componentLogger, createRootLogger } from './logger.ts';

const USAGE = `usage: teleql serve [--config FILE] [--data PATH] [--host ADDR] [--log-level LEVEL]
       teleql tail [spans] [logs] [--url URL] [--tenant ID] [--json] [filters…]   (teleql tail --help)
       teleql hash-key [--generate] [--scrypt]
       teleql --version

Commands:
  serve     run the gateway (OTLP gRPC :4317, OTLP HTTP :4318, GraphQL :4000/graphql)
  tail      print a gateway's spans and log records live
  hash-key  the auth.apiKeys hash of a key read from stdin (--scrypt for a key a person chose),
            or of a new random key (--generate prints the key, then its hash)

Environment:
${ENV_VARS.map((v) => `  ${v.name.padEnd(26)} ${v.help}`).join('\n')}
  TELEQL_CONFIG              config file (YAML or JSON)
  TELEQL_URL, TELEQL_TOKEN   teleql tail: the gateway's GraphQL URL, and an API key or JWT to send
  NO_COLOR                   teleql tail: no colours (also when stdout is not a terminal)
`;

const HASH_KEY_USAGE = `usage: echo -n "$KEY" | teleql hash-key [--scrypt]
       teleql hash-key --generate [--scrypt]

Prints the hash to put in auth.apiKeys[].hash for a key read from stdin (sha256: for generated,
high-entropy keys; --scrypt: for a key a person chose), or, with --generate, a new random key and
its hash (the key is shown once).
`;

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c' },
      data: { type: 'string' },
      host: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const overrides: Record<string, unknown> = {};
  if (values.data) overrides.storage = { duckdb: { path: values.data } };
  if (values['log-level']) overrides.log = { level: values['log-level'] };
  if (values.host) {
    overrides.graphql = { host: values.host };
    overrides.receivers = { otlp: { grpc: { host: values.host }, http: { host: values.host } } };
  }
  const load = () => loadConfig({ file: values.config, overrides });
  const cfg = load();
  const root = createRootLogger(cfg.log.level);
  const app = buildApp(cfg, { logger: root });
  let signalled = false;
  const stopThenExit = (why: string, code: number) => {
    if (signalled) process.exit(code === 0 ? 130 : code); // a second Ctrl-C means now
    signalled = true;
    void app.stop().then(
      () => process.exit(code),
      (err: unknown) => {
        console.error(`teleql: error while stopping after ${why}:`, err);
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => stopThenExit(signal, 0);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Node's default for both is to end the process at once, losing every acknowledged item still
  // queued for DuckDB and the exporters. A rejected promise no one handles is a defect, but its
  // work has ended and left no half-changed state behind it: log it and keep serving. An exception
  // thrown to the event loop may have stopped anywhere, so stop, as on SIGTERM (writing what was
  // acknowledged first), and exit 1.
  const processLog = componentLogger(root, 'process');
  process.on('unhandledRejection', (reason) => {
    processLog.error({ err: reason }, 'a promise was rejected with no handler (a defect in teleql: please report it); still serving');
  });
  process.on('uncaughtException', (err) => {
    processLog.fatal({ err }, 'uncaught exception (a defect in teleql: please report it); stopping: writing what was acknowledged, then exiting 1');
    stopThenExit('an uncaught exception', 1);
  });
  // SIGHUP reloads, as for the OTel Collector, Prometheus and Alertmanager (`kill -HUP`, systemd's
  // ExecReload). Node's default for it is to exit at once, which lost every acknowledged item still
  // queued for DuckDB, and a closed terminal sends it too. In place of bin/teleql.js' while loading.
  process.removeAllListeners('SIGHUP').on('SIGHUP', () => void app.reload(load));
  try {
    await app.start();
  } catch (err) {
    await app.stop().catch(() => {});
    throw err;
  }
}

async function tail(args: string[]): Promise<void> {
  const { runTail, TAIL_USAGE } = await import('./cli/tail.ts');
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(TAIL_USAGE);
    return;
  }
  const interrupted = new Promise<void>((resolve) => {
    // In place of bin/teleql.js' exit while loading.
    process.removeAllListeners('SIGINT').removeAllListeners('SIGTERM');
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
    // `teleql tail --json | head -1`: the reader is gone, so stop as on Ctrl-C (it crashed on EPIPE).
    // Any other write error (a full disk, /dev/full, EIO) ends the command as a failure, in one line.
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') return resolve();
      process.stderr.write(`teleql tail: cannot write to stdout: ${err.message}\n`);
      process.exit(1);
    });
  });
  process.exit(await runTail(args, { stdout: process.stdout, stderr: process.stderr, env: process.env, interrupted }));
}

/**
 * The hash for auth.apiKeys. The key comes from stdin, not an argument, so it stays out of shell
 * history and `ps`; --generate makes a random one (printed once, first).
 */
async function hashKey(args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(HASH_KEY_USAGE);
    return;
  }
  const { values } = parseArgs({ args, options: { generate: { type: 'boolean' }, scrypt: { type: 'boolean' } }, strict: true });
  const { hashApiKey } = await import('./auth/api-keys.ts');
  const kind = values.scrypt ? 'scrypt' : 'sha256';
  if (values.generate) {
    const key = randomBytes(32).toString('base64url');
    process.stdout.write(`key:  ${key}\nhash: ${hashApiKey(key, kind)}\n`);
    return;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const key = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (key === '') throw new ConfigError('hash-key: no key on stdin (echo -n "$KEY" | teleql hash-key), or use --generate');
  process.stdout.write(`${hashApiKey(key, kind)}\n`);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'tail':
      return tail(rest);
    case 'hash-key':
      return hashKey(rest);
    case '--version':
    case '-v':
    case 'version': {
      // src/main.ts from the sources, dist/src/main.js when built: the package root is one or two up.
      const file = ['../package.json', '../../package.json'].map((p) => new URL(p, import.meta.url)).find((u) => existsSync(u))!;
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { version: string };
      process.stdout.write(`teleql ${pkg.version}\n`);
      return;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`teleql: unknown command "${command}"\n\n${USAGE}`);
      process.exit(2);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError || (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
    process.stderr.write(`teleql: ${err.message}\n`);
    process.exit(2);
  }
  // One plain line, as for a config error (the reason is in the message: the file, the setting, the
  // backend); the stack only when asked for, with debug logging.
  const message = err instanceof Error ? err.message.split('\n', 1)[0] : String(err);
  process.stderr.write(`teleql: failed to start: ${message}\n`);
  if (/^(debug|trace)$/.test(process.env.TELEQL_LOG_LEVEL ?? '') && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`);
  process.exit(1);
});

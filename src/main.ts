// The `teleql` command. The only module that calls process.exit.
import { parseArgs } from 'node:util';
import { loadConfig, ENV_VARS } from './config/load.ts';
import { ConfigError } from './config/merge.ts';
import { buildApp } from './app.ts';

const USAGE = `usage: teleql serve [--config FILE] [--data PATH] [--host ADDR] [--log-level LEVEL]
       teleql tail [spans] [logs] [--url URL] [--tenant ID] [--json] [filters…]   (teleql tail --help)

Commands:
  serve    run the gateway (OTLP gRPC :4317, OTLP HTTP :4318, GraphQL :4000/graphql)
  tail     print a gateway's spans and log records live

Environment:
${ENV_VARS.map((v) => `  ${v.name.padEnd(26)} ${v.help}`).join('\n')}
  TELEQL_CONFIG              config file (YAML or JSON)
`;

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c' },
      data: { type: 'string' },
      host: { type: 'string' },
      'log-level': { type: 'string' },
    },
    strict: true,
  });
  const overrides: Record<string, unknown> = {};
  if (values.data) overrides.storage = { duckdb: { path: values.data } };
  if (values['log-level']) overrides.log = { level: values['log-level'] };
  if (values.host) {
    overrides.graphql = { host: values.host };
    overrides.receivers = { otlp: { grpc: { host: values.host }, http: { host: values.host } } };
  }
  const cfg = loadConfig({ file: values.config, overrides });
  const app = buildApp(cfg);
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) process.exit(130); // a second Ctrl-C means now
    signalled = true;
    void app.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`teleql: error while stopping after ${signal}:`, err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
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
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
    // `teleql tail --json | head -1`: the reader is gone, so stop as on Ctrl-C (it crashed on EPIPE).
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      resolve();
    });
  });
  process.exit(await runTail(args, { stdout: process.stdout, stderr: process.stderr, env: process.env, interrupted }));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'tail':
      return tail(rest);
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
  console.error('teleql: failed to start:', err);
  process.exit(1);
});

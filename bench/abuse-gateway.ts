// bench:abuse's gateway in its own process (the default shape): started by bench/abuse.ts under
// `taskset`, so the gateway and DuckDB's threads get their own core(s) and the load generator the
// others, as with a real client on another machine. argv[2] is the config overrides (JSON). Over
// the IPC channel it sends its addresses once listening, then answers 'read' with what it measured
// since 'reset': its event loop's busy share and delay, and per tenant its DuckDB read statements.
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks';
import { startGateway } from '../test/helpers/gateway.ts';
import type { LaneStats } from '../src/limits/fair-lanes.ts';

export interface GatewayAddresses {
  otlpHttp: string;
  otlpGrpc: string;
  graphqlUrl: string;
}

export interface GatewayReading {
  /** Event-loop busy share since 'reset' (0–1). */
  busy: number;
  delayP99Ms: number;
  delayMaxMs: number;
  reads: [string, LaneStats][];
}

const gw = await startGateway(JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>);
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
let elu: EventLoopUtilization = performance.eventLoopUtilization();
process.on('message', (msg) => {
  if (msg === 'reset') {
    delay.reset();
    elu = performance.eventLoopUtilization();
  } else if (msg === 'read') {
    const reading: GatewayReading = {
      busy: performance.eventLoopUtilization(elu).utilization,
      delayP99Ms: delay.percentile(99) / 1e6,
      delayMaxMs: delay.max / 1e6,
      reads: [...(gw.app.internals.store()?.db.readStats() ?? [])],
    };
    process.send?.(reading);
  } else if (msg === 'stop') {
    void gw.stop().then(() => process.exit(0));
  }
});
const addresses: GatewayAddresses = { otlpHttp: gw.otlpHttp, otlpGrpc: gw.otlpGrpc, graphqlUrl: gw.graphqlUrl };
process.send?.(addresses);

// Loaded into bench:tail's gateway with --import: measures the gateway's event-loop delay and
// answers the parent over the IPC channel ('reset' clears the histogram; 'read' replies with
// p50/p99/max in ms), so the bench can tell a stalled gateway from slow delivery.
import { monitorEventLoopDelay } from 'node:perf_hooks';

const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
process.on('message', (msg) => {
  if (msg === 'reset') delay.reset();
  else if (msg === 'read') process.send?.({ loop: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 } });
});
// The IPC channel must not keep the gateway alive on its own.
process.channel?.unref();

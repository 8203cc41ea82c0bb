// Binding a listener, with the reasons a bind fails said in words and naming the setting that
// chose the address: a port already taken (another teleql, another program) is the common
// mistake, and Node's EADDRINUSE stack named neither the setting nor what to do.
import type { AddressInfo, Server } from 'node:net';
import { SettingError } from '../config/merge.ts';

const BIND_PROBLEMS: Record<string, string> = {
  EADDRINUSE: 'is in use by another program (another teleql?); stop it or choose another port',
  EACCES: 'needs privileges this process does not have (ports below 1024); choose a port of 1024 or more',
  EADDRNOTAVAIL: 'is not an address of this machine; use one of its addresses, 127.0.0.1, or 0.0.0.0 for all',
  ENOTFOUND: 'names a host that does not resolve; use an address of this machine, 127.0.0.1, or 0.0.0.0 for all',
  EAI_AGAIN: 'names a host that could not be resolved now (DNS did not answer); use an address of this machine, 127.0.0.1, or 0.0.0.0 for all',
};
/** Codes whose fix is the host setting, not the port. */
const HOST_PROBLEMS = new Set(['EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN']);

/** `host:port` as a URL writes it (an IPv6 host in brackets). */
export const hostPort = (host: string, port: number) => `${host.includes(':') ? `[${host}]` : host}:${port}`;

/**
 * `server.listen(port, host)`, resolved with the address bound once it listens. A bind that fails rejects with a
 * SettingError naming `setting` (e.g. `graphql`: `graphql.port`, `graphql.host`) when the reason is
 * one a setting can fix, else with Node's error.
 */
export function listen(server: Server, port: number, host: string, setting: string): Promise<AddressInfo> {
  return new Promise<AddressInfo>((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) => {
      // Two of this gateway's own listeners given one port: said so, naming both (QA round 38e: it
      // read "in use by another program").
      const own = err.code === 'EADDRINUSE' ? boundHere.get(port) : undefined;
      const problem = own ? `is also ${own}.port: this gateway's own ${own} listener has it; give them different ports` : err.code && BIND_PROBLEMS[err.code];
      reject(problem ? new SettingError(HOST_PROBLEMS.has(err.code!) ? `${setting}.host` : `${setting}.port`, `${hostPort(host, port)} ${problem} (${err.code})`) : err);
    };
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      const address = server.address() as AddressInfo;
      boundHere.set(address.port, setting);
      server.once('close', () => {
        if (boundHere.get(address.port) === setting) boundHere.delete(address.port);
      });
      resolve(address);
    });
  });
}

/** Ports this process's listeners hold, with the setting that chose each. */
const boundHere = new Map<number, string>();

// A real HTTP server that records every POST it receives, answering with the statuses it is given
// in turn (then 200), so tests can see payloads and make deliveries fail and retry.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface WebhookServer {
  url: string;
  received: ReceivedRequest[];
  /** Statuses answered to the next requests, in order (with headers, e.g. Retry-After); once used up, 200. */
  failNext(...statuses: (number | { status: number; headers: Record<string, string> })[]): void;
  /** Answer every request with this status from now on (null: back to 200). */
  alwaysAnswer(status: number | null): void;
  close(): Promise<void>;
}

export async function startWebhookServer(): Promise<WebhookServer> {
  const received: ReceivedRequest[] = [];
  const queue: (number | { status: number; headers: Record<string, string> })[] = [];
  let always: number | null = null;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* kept as text */
      }
      received.push({ path: req.url ?? '', headers: req.headers, body });
      const next = always ?? queue.shift() ?? 200;
      const { status, headers } = typeof next === 'number' ? { status: next, headers: {} } : next;
      res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(status === 200 ? 'ok' : `failing with ${status}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    failNext: (...statuses) => void queue.push(...statuses),
    alwaysAnswer: (status) => void (always = status),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// Why a refused OTLP/HTTP body is drained rather than left unread (SECURITY.md, "Not defended"):
// a server that answers 429, stops reading and closes the connection with the body unread makes
// the kernel send RST, and Linux drops response bytes the client has not read yet. A client that
// reads its answer a little late (busy, or slow) then sees ECONNRESET instead of a retryable 429.
// Each way is tried with a client that sends an 8 MB body at once and reads 300 ms later. The third
// is what limits.ingest.closeAfterRefusals does to a tenant that keeps sending after its 429s: stop
// reading, half-close (FIN after the answer) and cut the connection only after a linger of 1 s.
//   node --import tsx bench/abuse-reset.ts
import net from 'node:net';

const ANSWER = 'HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';
const BODY_BYTES = 8_000_000;

/** What a late-reading client got from a server that refuses on the first chunk, then `after`. */
type After = 'close unread' | 'drain, then close' | 'half-close, cut after 1 s unread';
function attempt(after: After): Promise<string> {
  return new Promise((resolve) => {
    const server = net.createServer((s) => {
      s.once('data', () => {
        s.write(ANSWER, () => {
          if (after === 'close unread') s.destroy();
          else if (after === 'half-close, cut after 1 s unread') {
            s.pause();
            s.end();
            setTimeout(() => s.destroy(), 1000);
          } else {
            // Read and discard until the client is done, then close: nothing is left unread.
            s.on('data', () => {});
            s.once('end', () => s.end());
          }
        });
      });
      s.on('error', () => {});
    });
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      const c = net.connect(port, '127.0.0.1');
      c.pause();
      c.write(`POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${BODY_BYTES}\r\n\r\n`);
      c.end(Buffer.alloc(BODY_BYTES));
      let got = '';
      let error = '';
      c.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
      c.on('data', (d: Buffer) => (got += d.toString()));
      c.on('close', () => {
        server.close();
        resolve(got ? JSON.stringify(got.split('\r\n')[0]) : `no response (${error || 'closed'})`);
      });
      setTimeout(() => c.resume(), 300);
    });
  });
}

for (const after of ['close unread', 'drain, then close', 'half-close, cut after 1 s unread'] as const) console.log(`${after.padEnd(32)} → client read ${await attempt(after)}`);

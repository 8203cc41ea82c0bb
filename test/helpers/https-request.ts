// One HTTPS request with node's client (TLS options such as a client certificate or CA, which
// fetch cannot take): the status and the body as text.
import https from 'node:https';

export function httpsText(url: string, opts: https.RequestOptions, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, opts, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// URLs with credentials in them (`http://user:pass@host`, `?token=…`), for the operator's configured
// endpoints: fetch refuses user info, so it becomes Basic auth; what is shown (errors, logs, the
// `backends` query) has it removed.

// Query parameters whose values are secrets in URLs (tokens, keys, signatures).
const SECRET_PARAM = /^(?:.*token|.*secret|.*key|.*password|passwd|pass|pwd|sig|signature|auth|authorization|code|credentials?)$/i;

/**
 * Text with every URL in it shown without credentials: the user info (`http://user:pass@host` →
 * `http://***@host`) and the values of query parameters named like secrets (`?token=***`).
 * Receivers are the operator's and shared by every tenant, while a delivery error shows in each
 * tenant's `lastNotificationError` and in the log.
 */
export function withoutCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#"'<>]*@)?([^\s?#"'<>]*)(\?[^\s#"'<>]*)?/gi, (_m, scheme: string, userinfo: string | undefined, rest: string, query: string | undefined) => {
    const q = query?.replace(/([?&])([^=&]*)=([^&]*)/g, (pair, sep: string, name: string) => (SECRET_PARAM.test(decodeURIComponentSafe(name)) ? `${sep}${name}=***` : pair));
    return `${scheme}${userinfo ? '***@' : ''}${rest}${q ?? ''}`;
  });
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * A URL's user info as HTTP Basic auth (as Alertmanager's and Jaeger's HTTP clients send it) and the
 * URL without it. Null when the URL has none; throws on a string that is not a URL. A `%` that
 * starts no escape is taken as itself.
 */
export function basicAuthOf(url: string): { url: string; authorization: string } | null {
  const u = new URL(url);
  if (!u.username && !u.password) return null;
  const authorization = `Basic ${Buffer.from(`${decodeURIComponentSafe(u.username)}:${decodeURIComponentSafe(u.password)}`).toString('base64')}`;
  u.username = '';
  u.password = '';
  return { url: u.toString(), authorization };
}

/**
 * An endpoint as it may be shown: a URL without its user and password (a configured
 * `http://user:pass@es:9200` must not reach the `backends` query or a log); anything else as is.
 */
export function endpointWithoutCredentials(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return endpoint;
  }
  if (url.username === '' && url.password === '') return endpoint;
  url.username = '';
  url.password = '';
  return url.toString();
}

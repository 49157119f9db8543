// Requests to an ingress's plain HTTP port on 127.0.0.1, as the ingress e2e files send them.
import { request } from 'node:http';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** The client's address (a second loopback address, to tell it from the proxies' own). */
  localAddress?: string;
  /** Give up (an error) after this long without progress. */
  timeoutMs?: number;
  onFirstByte?: () => void;
}

/**
 * One request for `host` on a new connection: NGINX closes idle keep-alive connections when it
 * reloads, and a request sent on one at that moment is reset (browsers retry such requests;
 * node's http does not).
 */
export function sendHttp(port: number, host: string, path: string, opts: SendOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        localAddress: opts.localAddress,
        port,
        path,
        method: opts.method ?? 'GET',
        headers: { host, ...opts.headers },
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.once('data', () => opts.onFirstByte?.());
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    if (opts.timeoutMs) req.setTimeout(opts.timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** What the e2e files' echo backends answer: their name, the URL and headers they saw. */
export const echoed = (a: { body: string }) =>
  JSON.parse(a.body) as { name: string; url: string; headers: Record<string, string>; peer: number };

// A bare HTTPS client with the admin identity from a kubeconfig, for requests kubectl won't make
// (malformed bodies, odd paths, raw watches).
import https from 'node:https';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A response whose body is kept as bytes (protobuf), with its content type. */
export interface BytesResponse {
  status: number;
  type: string;
  body: Buffer;
}

export interface RawClient {
  base: string;
  agent: https.Agent;
  request(method: string, path: string, body?: string | Buffer, headers?: Record<string, string>): Promise<RawResponse>;
  /** Like request, the body kept as bytes and no Accept added. */
  bytes(method: string, path: string, body?: string | Buffer, headers?: Record<string, string>): Promise<BytesResponse>;
  json(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; headers: RawResponse['headers'] }>;
}

export function rawClient(kubeconfigPath: string, opts: { anonymous?: boolean } = {}): RawClient {
  const cfg = YAML.parse(readFileSync(kubeconfigPath, 'utf8'));
  const cluster = cfg.clusters[0].cluster;
  const user = cfg.users[0].user;
  const b64 = (s: string) => Buffer.from(s, 'base64');
  const agent = new https.Agent({
    ca: b64(cluster['certificate-authority-data']),
    cert: opts.anonymous ? undefined : b64(user['client-certificate-data']),
    key: opts.anonymous ? undefined : b64(user['client-key-data']),
    keepAlive: true,
    maxSockets: 64,
  });
  const base: string = cluster.server;
  const send = (method: string, path: string, body: string | Buffer | undefined, headers: Record<string, string>) =>
    new Promise<{ status: number; headers: RawResponse['headers']; body: Buffer }>((resolve, reject) => {
      const req = https.request(new URL(path, base), { method, agent, headers, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  const request = async (
    method: string,
    path: string,
    body?: string | Buffer,
    headers: Record<string, string> = {},
  ) => {
    const r = await send(method, path, body, { Accept: 'application/json', ...headers });
    return { ...r, body: r.body.toString('utf8') };
  };
  return {
    base,
    agent,
    request,
    async bytes(method, path, body, headers = {}) {
      const r = await send(method, path, body, headers);
      return { status: r.status, type: String(r.headers['content-type']), body: r.body };
    },
    async json(method, path, body, headers = {}) {
      const r = await request(
        method,
        path,
        body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        {
          'Content-Type': 'application/json',
          ...headers,
        },
      );
      let parsed: any = r.body;
      try {
        parsed = JSON.parse(r.body);
      } catch {
        /* not JSON */
      }
      return { status: r.status, body: parsed, headers: r.headers };
    },
  };
}

// Container lifecycle hooks (postStart, preStop): exec in the container, an HTTP GET against the
// pod, or a sleep. A hook returns an error message, or undefined when it succeeded.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { HTTPGetAction, LifecycleHandler } from 'kubernetes-types/core/v1.js';
import type { ExecSyncResult } from '../runtime/types.js';
import { errorMessage } from '../errors.js';

export interface HookTarget {
  podIP: string;
  ports: { name?: string; containerPort: number }[];
  execSync(cmd: string[], timeoutSeconds: number): Promise<ExecSyncResult>;
}

function resolvePort(port: string | number, ports: HookTarget['ports']): number | undefined {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return ports.find((p) => p.name === port)?.containerPort;
}

function httpGet(h: HTTPGetAction, target: HookTarget, timeoutSeconds: number): Promise<string | undefined> {
  const port = resolvePort(h.port, target.ports);
  if (port === undefined) return Promise.resolve(`couldn't find port: ${h.port}`);
  const https = String(h.scheme ?? 'HTTP').toUpperCase() === 'HTTPS';
  const headers: Record<string, string> = { 'User-Agent': 'kube-lifecycle/1.30', Accept: '*/*' };
  for (const x of h.httpHeaders ?? []) headers[x.name] = x.value;
  return new Promise((resolve) => {
    const req = (https ? httpsRequest : httpRequest)(
      {
        host: h.host || target.podIP,
        port,
        path: h.path || '/',
        method: 'GET',
        headers,
        timeout: timeoutSeconds * 1000,
        rejectUnauthorized: false,
      },
      (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve(
          code >= 200 && code < 400
            ? undefined
            : `HTTP lifecycle hook (${h.path || '/'}) failed with status code ${code}`,
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve(`HTTP lifecycle hook (${h.path || '/'}) failed: ${err.message}`));
    req.end();
  });
}

export async function runHook(
  handler: LifecycleHandler,
  target: HookTarget,
  graceSeconds: number,
): Promise<string | undefined> {
  if (handler.exec) {
    const cmd: string[] = handler.exec.command ?? [];
    try {
      const r = await target.execSync(cmd, Math.max(1, graceSeconds));
      if (r.exitCode === 0) return undefined;
      const out = Buffer.concat([r.stdout, r.stderr]).toString('utf8');
      return `Exec lifecycle hook (${JSON.stringify(cmd)}) failed - error: command '${cmd.join(' ')}' exited with ${r.exitCode}: ${out}`;
    } catch (err) {
      return `Exec lifecycle hook (${JSON.stringify(cmd)}) failed - error: ${errorMessage(err)}`;
    }
  }
  if (handler.httpGet) return httpGet(handler.httpGet, target, Math.max(1, graceSeconds));
  const sleep = handler.sleep;
  if (sleep) {
    await new Promise((r) => setTimeout(r, Math.min(sleep.seconds ?? 0, graceSeconds) * 1000));
    return undefined;
  }
  return undefined;
}

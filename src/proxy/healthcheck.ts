// kube-proxy's service health checks: every Service with externalTrafficPolicy Local gets an HTTP
// server on its healthCheckNodePort, on every address of the node, telling an external load
// balancer whether this node has endpoints of it (200 and their count, else 503), so traffic is
// sent only to nodes that keep it (the policy drops it on the others).
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ServicePort } from './model.js';

interface Checked {
  namespace: string;
  name: string;
  localEndpoints: number;
}

/** What each health check port should answer for: one Service per port, its local endpoint count. */
export function healthChecks(ports: ServicePort[]): Map<number, Checked> {
  const out = new Map<number, Checked>();
  const local = new Map<number, Set<string>>();
  for (const p of ports) {
    if (!p.externalPolicyLocal || !p.healthCheckNodePort) continue;
    const port = p.healthCheckNodePort;
    if (!out.has(port)) out.set(port, { namespace: p.namespace, name: p.name, localEndpoints: 0 });
    const ips = local.get(port) ?? new Set<string>();
    for (const e of p.externalEndpoints) if (e.local) ips.add(e.ip);
    local.set(port, ips);
    out.get(port)!.localEndpoints = ips.size;
  }
  return out;
}

export class ServiceHealthServer {
  private readonly servers = new Map<number, { server: Server; checked: Checked }>();

  constructor(
    private readonly log: Logger,
    private readonly host = '0.0.0.0',
  ) {}

  /** Opens the ports newly asked for, closes those no longer, and updates the counts. */
  sync(ports: ServicePort[]): void {
    const wanted = healthChecks(ports);
    for (const [port, entry] of this.servers) {
      if (!wanted.has(port)) {
        entry.server.close();
        this.servers.delete(port);
      }
    }
    for (const [port, checked] of wanted) {
      const open = this.servers.get(port);
      if (open) open.checked = checked;
      else this.listen(port, checked);
    }
  }

  private listen(port: number, checked: Checked): void {
    const entry = { server: createServer((_, res) => answer(res, entry.checked)), checked };
    this.servers.set(port, entry);
    entry.server.once('error', (err) => {
      // Left out of the map so the next sync tries again (another process may hold the port).
      this.log.warn({ err, port, service: `${checked.namespace}/${checked.name}` }, 'health check port unavailable');
      if (this.servers.get(port) === entry) this.servers.delete(port);
    });
    entry.server.listen(port, this.host);
  }

  close(): void {
    for (const { server } of this.servers.values()) server.close();
    this.servers.clear();
  }
}

function answer(res: ServerResponse, c: Checked): void {
  const body = {
    service: { namespace: c.namespace, name: c.name },
    localEndpoints: c.localEndpoints,
    serviceProxyHealthy: true,
  };
  res.writeHead(c.localEndpoints > 0 ? 200 : 503, {
    'content-type': 'application/json',
    'x-content-type-options': 'nosniff',
    'x-load-balancing-endpoint-weight': String(c.localEndpoints),
  });
  res.end(JSON.stringify(body, null, 2));
}

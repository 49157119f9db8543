// Prometheus metrics with upstream's names, so dashboards built for kube-apiserver work.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RequestInfo } from './requestinfo.js';

function verbOf(method: string, info: RequestInfo | undefined, watching: boolean): string {
  if (watching) return 'WATCH';
  if (!info || info.kind !== 'resource') return method;
  if (method === 'GET') return info.name ? 'GET' : 'LIST';
  if (method === 'DELETE' && !info.name) return 'DELETECOLLECTION';
  return method === 'POST' ? 'POST' : method;
}

export class ApiMetrics {
  private readonly registry = new Registry();
  private readonly duration = new Histogram({
    name: 'apiserver_request_duration_seconds',
    help: 'Response latency distribution in seconds for each verb, group, version, resource, subresource and scope.',
    labelNames: ['verb', 'group', 'version', 'resource', 'subresource', 'scope', 'component'],
    buckets: [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60],
    registers: [this.registry],
  });
  private readonly total = new Counter({
    name: 'apiserver_request_total',
    help: 'Counter of apiserver requests broken out for each verb, group, version, resource, scope, component, and HTTP response code.',
    labelNames: ['verb', 'group', 'version', 'resource', 'subresource', 'scope', 'component', 'code'],
    registers: [this.registry],
  });
  private readonly watchers = new Gauge({
    name: 'apiserver_longrunning_requests',
    help: 'Gauge of all active long-running apiserver requests.',
    labelNames: ['verb'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  observe(req: IncomingMessage, res: ServerResponse, info: RequestInfo | undefined, started: bigint, watching: boolean): void {
    const verb = verbOf(req.method ?? 'GET', info, watching);
    const r = info?.kind === 'resource' ? info : undefined;
    const labels = {
      verb,
      group: r?.group ?? '',
      version: r?.version ?? '',
      resource: r?.resource ?? '',
      subresource: r?.subresource ?? '',
      scope: r ? (r.name ? 'resource' : r.namespace ? 'namespace' : 'cluster') : '',
      component: 'apiserver',
    };
    if (watching) {
      this.watchers.inc({ verb });
      res.once('close', () => this.watchers.dec({ verb }));
      return;
    }
    this.duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    this.total.inc({ ...labels, code: String(res.statusCode) });
  }
}

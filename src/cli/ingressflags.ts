// Flags of the built-in ingress controller (docs/ingress.md): on by default in `k8ts server`
// (--disable-ingress turns it off), opt-in on `k8ts agent` (--ingress), ports 80 and 443.
import type { Command } from 'commander';
import type { Logger } from 'pino';
import type { Client } from '../client/client.js';
import type { IngressController } from '../ingress/controller.js';

export interface IngressFlags {
  disableIngress?: boolean;
  ingress?: boolean;
  ingressHttpPort?: string;
  ingressHttpsPort?: string;
  ingressBindAddress?: string;
  ingressRootNamespaces?: string;
  ingressTcpServicesConfigmap?: string;
  ingressUdpServicesConfigmap?: string;
  ingressAccessLog?: string;
  ingressAccessLogFormat?: string;
  ingressMetricsPort?: string;
  ingressDataPlane?: string;
  ingressNginxWorkers?: string;
  ingressNginxTls?: string;
}

export function addIngressFlags(cmd: Command, role: 'server' | 'agent'): Command {
  if (role === 'server') cmd.option('--disable-ingress', 'run no ingress controller (ports 80/443) in this process');
  else cmd.option('--ingress', 'also serve Ingresses on this node (ports 80/443), as the server does');
  return cmd
    .option('--ingress-http-port <port>', 'port the ingress controller serves HTTP on', '80')
    .option('--ingress-https-port <port>', 'port the ingress controller serves HTTPS (and HTTP/2) on', '443')
    .option('--ingress-bind-address <ip>', 'address the ingress controller listens on', '0.0.0.0')
    .option(
      '--ingress-root-namespaces <list>',
      'comma-separated namespaces where root HTTPProxies (spec.virtualhost) may live (default: all)',
    )
    .option(
      '--ingress-tcp-services-configmap <namespace/name>',
      'ConfigMap of TCP services to expose, ingress-nginx style ("PORT": "NAMESPACE/SERVICE:PORT")',
    )
    .option(
      '--ingress-udp-services-configmap <namespace/name>',
      'ConfigMap of UDP services to expose, ingress-nginx style ("PORT": "NAMESPACE/SERVICE:PORT")',
    )
    .option('--ingress-access-log <file>', 'write one line per ingress request to this file (- for stdout)')
    .option('--ingress-access-log-format <format>', 'access log lines: json or combined (nginx)', 'json')
    .option(
      '--ingress-metrics-port <port>',
      "serve the ingress's Prometheus metrics (ingress-nginx names) on /metrics of this port (0: off)",
      '0',
    )
    .option(
      '--ingress-data-plane <plane>',
      'nginx: NGINX from Debian in front of the JS proxy (the default when nginx and libnginx-mod-stream are installed); builtin: the JS proxy alone',
    )
    .option('--ingress-nginx-workers <n>', 'NGINX worker processes of the ingress data plane', '1')
    .option(
      '--ingress-nginx-tls <mode>',
      'auto: NGINX terminates TLS on the HTTPS port itself unless a passthrough route needs the stream relay; relay: always the stream relay',
      'auto',
    );
}

function nginxTls(value: string | undefined): 'auto' | 'relay' {
  if (value === undefined || value === 'auto' || value === 'relay') return value ?? 'auto';
  throw new Error(`--ingress-nginx-tls: want auto or relay, got ${value}`);
}

function dataPlane(value: string | undefined): 'nginx' | 'builtin' | 'auto' {
  if (value === undefined) return 'auto';
  if (value === 'nginx' || value === 'builtin') return value;
  throw new Error(`--ingress-data-plane: want nginx or builtin, got ${value}`);
}

function port(value: string | undefined, fallback: number, flag: string): number {
  const n = Number(value ?? fallback);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${flag}: invalid port ${value}`);
  return n;
}

function accessLogFormat(value: string | undefined): 'json' | 'combined' {
  if (value === undefined || value === 'json' || value === 'combined') return value ?? 'json';
  throw new Error(`--ingress-access-log-format: want json or combined, got ${value}`);
}

function configMapRef(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (!/^[a-z0-9-]+\/[a-z0-9.-]+$/.test(value)) throw new Error(`${flag}: want namespace/name, got ${value}`);
  return value;
}

/** Starts the ingress controller if the flags ask for it (the server's also manages class and status). */
export async function startIngressFromFlags(
  flags: IngressFlags,
  role: 'server' | 'agent',
  client: Client,
  logger: Logger,
  nodeName?: string,
  dataDir?: string,
): Promise<IngressController | undefined> {
  const enabled = role === 'server' ? !flags.disableIngress : !!flags.ingress;
  if (!enabled) return undefined;
  const { IngressController } = await import('../ingress/controller.js'); // loaded only when it runs
  const controller = new IngressController({
    client,
    logger,
    bindAddress: flags.ingressBindAddress ?? '0.0.0.0',
    httpPort: port(flags.ingressHttpPort, 80, '--ingress-http-port'),
    httpsPort: port(flags.ingressHttpsPort, 443, '--ingress-https-port'),
    manageCluster: role === 'server',
    nodeName,
    rootNamespaces: (flags.ingressRootNamespaces ?? '')
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean),
    tcpServicesConfigMap: configMapRef(flags.ingressTcpServicesConfigmap, '--ingress-tcp-services-configmap'),
    udpServicesConfigMap: configMapRef(flags.ingressUdpServicesConfigmap, '--ingress-udp-services-configmap'),
    accessLog: flags.ingressAccessLog,
    accessLogFormat: accessLogFormat(flags.ingressAccessLogFormat),
    metricsPort: port(flags.ingressMetricsPort, 0, '--ingress-metrics-port'),
    dataPlane: dataPlane(flags.ingressDataPlane),
    dataDir,
    nginxWorkers: Math.max(1, port(flags.ingressNginxWorkers, 1, '--ingress-nginx-workers')),
    nginxRelay: nginxTls(flags.ingressNginxTls) === 'relay',
  });
  await controller.start();
  return controller;
}

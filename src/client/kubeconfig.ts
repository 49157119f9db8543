// Reads a kubeconfig file the way client-go's loader does for the fields k8ts clients need:
// the current (or a named) context's server, CA and client identity (certificate or token).
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import YAML from 'yaml';

export interface ClientConfig {
  server: string;
  ca?: string;
  cert?: string;
  key?: string;
  token?: string;
  insecureSkipTLSVerify?: boolean;
}

export function loadKubeconfig(path: string, context?: string): ClientConfig {
  const text = readFileSync(path, 'utf8');
  const cfg = YAML.parse(text) ?? {};
  const base = dirname(path);
  const ctxName = context ?? cfg['current-context'];
  const ctx = (cfg.contexts ?? []).find((c: any) => c.name === ctxName)?.context ?? cfg.contexts?.[0]?.context;
  if (!ctx) throw new Error(`kubeconfig ${path}: no context ${ctxName ?? ''}`.trim());
  const cluster = (cfg.clusters ?? []).find((c: any) => c.name === ctx.cluster)?.cluster;
  if (!cluster?.server) throw new Error(`kubeconfig ${path}: cluster ${ctx.cluster} has no server`);
  const user = (cfg.users ?? []).find((u: any) => u.name === ctx.user)?.user ?? {};
  const read = (data: string | undefined, file: string | undefined): string | undefined => {
    if (data) return Buffer.from(data, 'base64').toString('utf8');
    if (file) return readFileSync(isAbsolute(file) ? file : join(base, file), 'utf8');
    return undefined;
  };
  const tokenFile = user.tokenFile
    ? readFileSync(isAbsolute(user.tokenFile) ? user.tokenFile : join(base, user.tokenFile), 'utf8').trim()
    : undefined;
  return {
    server: String(cluster.server).replace(/\/+$/, ''),
    ca: read(cluster['certificate-authority-data'], cluster['certificate-authority']),
    cert: read(user['client-certificate-data'], user['client-certificate']),
    key: read(user['client-key-data'], user['client-key']),
    token: user.token ?? tokenFile,
    insecureSkipTLSVerify: cluster['insecure-skip-tls-verify'] === true,
  };
}

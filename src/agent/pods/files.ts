// The files the kubelet manages for a pod under its directory: the pod's /etc/hosts (its own name
// and IP, hostAliases) and one termination-message file per container attempt, mounted into the
// containers; and reading a termination message back by terminationMessagePolicy.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerStatus, Mount } from '../runtime/types.js';
import type { AgentPod, PodContainer } from './types.js';

const TERMINATION_MESSAGE_MAX = 4096;

export class PodFiles {
  constructor(
    private podsDir: string,
    private clusterDomain: string,
  ) {}

  dir(uid: string): string {
    return join(this.podsDir, uid);
  }

  /** Mounts the kubelet adds to every container: /etc/hosts and the termination-message file. */
  mounts(pod: AgentPod, c: PodContainer, attempt: number): Mount[] {
    const out: Mount[] = [];
    const dir = this.dir(pod.metadata.uid);
    const hosts = join(dir, 'etc-hosts');
    const mountsEtcHosts = (c.volumeMounts ?? []).some((m) => m.mountPath === '/etc/hosts');
    if (existsSync(hosts) && !mountsEtcHosts) out.push({ containerPath: '/etc/hosts', hostPath: hosts });
    const termDir = join(dir, 'containers', c.name);
    mkdirSync(termDir, { recursive: true });
    const term = join(termDir, `termination-${attempt}`);
    writeFileSync(term, '');
    out.push({ containerPath: c.terminationMessagePath ?? '/dev/termination-log', hostPath: term });
    return out;
  }

  /** Writes the pod's /etc/hosts (hostNetwork pods get the host's). */
  writeHosts(pod: AgentPod, ip: string | undefined): void {
    const dir = this.dir(pod.metadata.uid);
    mkdirSync(dir, { recursive: true });
    let text: string;
    if (pod.spec?.hostNetwork) {
      text = existsSync('/etc/hosts') ? readFileSync('/etc/hosts', 'utf8') : '';
    } else {
      const lines = [
        '# Kubernetes-managed hosts file.',
        '127.0.0.1\tlocalhost',
        '::1\tlocalhost ip6-localhost ip6-loopback',
        'fe00::0\tip6-localnet',
        'fe00::0\tip6-mcastprefix',
        'fe00::1\tip6-allnodes',
        'fe00::2\tip6-allrouters',
      ];
      const hostname = pod.spec?.hostname || pod.metadata.name;
      if (ip) {
        const fqdn = pod.spec?.subdomain
          ? `${hostname}.${pod.spec.subdomain}.${pod.metadata.namespace}.svc.${this.clusterDomain}\t`
          : '';
        lines.push(`${ip}\t${fqdn}${hostname}`);
      }
      const aliases = pod.spec?.hostAliases ?? [];
      if (aliases.length) {
        lines.push('', '# Entries added by HostAliases.');
        for (const a of aliases) lines.push(`${a.ip}\t${(a.hostnames ?? []).join('\t')}`);
      }
      text = lines.join('\n') + '\n';
    }
    const file = join(dir, 'etc-hosts');
    if (!existsSync(file) || readFileSync(file, 'utf8') !== text) writeFileSync(file, text);
  }

  /** A container's termination message: its file, else (FallbackToLogsOnError, failed) the log's tail. */
  terminationMessage(pod: AgentPod, c: ContainerStatus): string | undefined {
    const spec = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find(
      (x) => x.name === c.metadata.name,
    );
    const file = join(this.dir(pod.metadata.uid), 'containers', c.metadata.name, `termination-${c.metadata.attempt}`);
    let msg = '';
    try {
      msg = readFileSync(file, 'utf8').slice(0, TERMINATION_MESSAGE_MAX);
    } catch {
      /* no file */
    }
    if (!msg && spec?.terminationMessagePolicy === 'FallbackToLogsOnError' && c.exitCode !== 0 && c.logPath) {
      try {
        const lines = readFileSync(c.logPath, 'utf8').split('\n').filter(Boolean).slice(-80);
        msg = lines
          .map((l) => l.split(' ').slice(3).join(' '))
          .join('\n')
          .slice(-2048);
      } catch {
        /* no log */
      }
    }
    return msg || c.message || undefined;
  }
}

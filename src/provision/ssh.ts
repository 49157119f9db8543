// Commands on a node over SSH, with the system's OpenSSH client (`ssh`), not an npm SSH library:
// it is on every machine that has SSH at all, and it brings what users already set up for it
// (~/.ssh/config, ssh-agent, ProxyJump, their known_hosts) without a new dependency to maintain.
// Scripts run as `sh -c SCRIPT` on the node; files go over as a tar stream on the same channel.
import { spawn } from 'node:child_process';
import type { NodeConfig } from './config.js';

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A word for the remote shell: single-quoted, quotes inside closed and escaped. */
export function shq(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export class SshNode {
  constructor(
    readonly node: NodeConfig,
    /** The known_hosts file: a node's host key is recorded the first time and checked afterwards. */
    private readonly knownHosts: string,
  ) {}

  private args(): string[] {
    const n = this.node;
    return [
      ...['-p', String(n.port)],
      ...(n.sshKeyPath ? ['-i', n.sshKeyPath, '-o', 'IdentitiesOnly=yes'] : []),
      ...['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new'],
      ...['-o', `UserKnownHostsFile=${this.knownHosts}`, '-o', 'ConnectTimeout=15'],
      ...['-o', 'ServerAliveInterval=10', '-o', 'ServerAliveCountMax=3', '-o', 'LogLevel=ERROR'],
      `${n.user}@${n.address}`,
    ];
  }

  /** Runs `script` with sh on the node; `input` (a stream or bytes) goes to its standard input. */
  run(
    script: string,
    opts: { input?: NodeJS.ReadableStream | Buffer | string; timeoutMs?: number } = {},
  ): Promise<SshResult> {
    return new Promise((resolve, reject) => {
      const child = spawn('ssh', [...this.args(), `sh -c ${shq(script)}`], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`ssh ${this.node.user}@${this.node.address}: ${err.message}`));
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code: code ?? (signal ? 255 : 1), stdout, stderr });
      });
      child.stdin.on('error', () => undefined);
      const input = opts.input;
      if (input === undefined) child.stdin.end();
      else if (typeof input === 'string' || Buffer.isBuffer(input)) child.stdin.end(input);
      else input.pipe(child.stdin);
    });
  }

  /** Runs `script` and returns its output; a failure names the node and what it printed. */
  async must(script: string, what: string, timeoutMs?: number): Promise<string> {
    const r = await this.run(script, { timeoutMs });
    if (r.code !== 0) {
      const out = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-10).join('\n');
      throw new Error(`node ${this.node.name} (${this.node.address}): ${what} failed (exit ${r.code}): ${out}`);
    }
    return r.stdout;
  }
}

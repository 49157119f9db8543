// Sends hostile cases to a running server and judges every answer against one oracle: a 4xx
// Status or (where the input is valid) a 2xx; never a 5xx, a reset or silence. Every 100
// requests the server must still be ready and still create a ConfigMap. A case that kills or
// hangs the server is reported as such, and the server is restarted so the other cases still run.
import https from 'node:https';
import { appendFileSync, readFileSync } from 'node:fs';
import YAML from 'yaml';
import type { Cluster } from './harness.js';
import { describeBody } from './hostilegen.js';

export interface Expectation {
  /** Exact status (or one of). Without it: any 4xx, or a 2xx when `valid` allows. */
  status?: number | number[];
  /** The Status message must match. */
  message?: RegExp;
  /** A 2xx is a right answer too (the input may be valid). */
  valid?: boolean;
  /** A 4xx may have a non-Status body (upstream's own plain-text answers, e.g. 404 page not found). */
  plain?: boolean;
  /** A watch: a 2xx answer's headers are enough (the stream is then closed by us). */
  stream?: boolean;
  /** A 2xx whose body matches this leaked something it must not (e.g. objects of another namespace). */
  forbidBody?: RegExp;
  /** Upstream answers this one with the given 5xx too (e.g. 504 for a resourceVersion from the future). */
  upstream5xx?: number;
}

export interface Case {
  /** Unique within the suite; HOSTILE_CASE=<id> runs just this one (HOSTILE_CASE=<prefix>* a group). */
  id: string;
  method: string;
  /** Sent verbatim (no URL normalisation): dot segments, %-escapes and raw bytes reach the server as written. */
  path: string;
  body?: string | Buffer;
  /** Content-Type to send; null sends none. Default application/json when there is a body. */
  contentType?: string | null;
  headers?: Record<string, string>;
  expect?: Expectation;
}

export interface Observed {
  status?: number;
  body?: string;
  contentType?: string;
  error?: string;
}

export interface Failure {
  id: string;
  problem: string;
  repro: string;
}

const TIMEOUT_MS = 10_000;
const CHECKPOINT_EVERY = 100;

export class HostileRunner {
  private agent!: https.Agent;
  private host = '';
  private port = 0;
  requests = 0;
  private sinceCheckpoint = 0;
  /** Ids of cases after which the server had to be restarted. */
  readonly restarts: string[] = [];
  readonly only = process.env.HOSTILE_CASE;
  /** Called after a restart, to recreate fixtures and take a new memory baseline. */
  onRestart: () => Promise<void> = async () => {};

  constructor(
    readonly cluster: Cluster,
    readonly seed: number,
  ) {
    this.connect();
  }

  private connect(): void {
    this.agent?.destroy();
    const cfg = YAML.parse(readFileSync(this.cluster.kubeconfig, 'utf8'));
    const b64 = (s: string) => Buffer.from(s, 'base64');
    this.agent = new https.Agent({
      ca: b64(cfg.clusters[0].cluster['certificate-authority-data']),
      cert: b64(cfg.users[0].user['client-certificate-data']),
      key: b64(cfg.users[0].user['client-key-data']),
      keepAlive: true,
      maxSockets: 8,
    });
    const url = new URL(cfg.clusters[0].cluster.server);
    this.host = url.hostname;
    this.port = Number(url.port);
  }

  close(): void {
    this.agent?.destroy();
  }

  /** One raw request with a client-side timeout; transport failures come back as `error`. */
  send(
    c: Pick<Case, 'method' | 'path' | 'body' | 'contentType' | 'headers' | 'expect'>,
    timeoutMs = TIMEOUT_MS,
  ): Promise<Observed> {
    this.requests++;
    this.sinceCheckpoint++;
    const headers: Record<string, string | number> = { Accept: 'application/json', ...c.headers };
    const contentType =
      c.contentType === undefined ? (c.body !== undefined ? 'application/json' : undefined) : c.contentType;
    if (contentType !== null && contentType !== undefined) headers['Content-Type'] = contentType;
    if (c.body !== undefined) headers['Content-Length'] = Buffer.byteLength(c.body);
    return new Promise((resolve) => {
      let done = false;
      const finish = (o: Observed) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(o);
      };
      let req: ReturnType<typeof https.request>;
      try {
        req = https.request(
          { host: this.host, port: this.port, method: c.method, path: c.path, headers, agent: this.agent },
          (res) => {
            const status = res.statusCode ?? 0;
            const contentType = String(res.headers['content-type'] ?? '');
            if (c.expect?.stream && status >= 200 && status < 300) {
              finish({ status, contentType, body: '' });
              res.destroy();
              return;
            }
            const chunks: Buffer[] = [];
            res.on('data', (d) => chunks.push(d));
            res.on('end', () => finish({ status, contentType, body: Buffer.concat(chunks).toString('utf8') }));
            res.on('error', (e) => finish({ status, error: `response cut off: ${e.message}` }));
          },
        );
      } catch (e) {
        // The client refused to send it (e.g. a character Node's HTTP client does not allow).
        finish({ error: `client refused: ${(e as Error).message}` });
        return;
      }
      const timer = setTimeout(() => {
        finish({ error: `no answer within ${timeoutMs / 1000} s` });
        req.destroy();
      }, timeoutMs);
      req.on('error', (e: NodeJS.ErrnoException) => finish({ error: `${e.code ?? 'error'}: ${e.message}` }));
      req.end(c.body);
    });
  }

  /** What is wrong with an answer to a case (undefined: right). */
  judge(c: Case, o: Observed): string | undefined {
    const x = c.expect ?? {};
    if (o.error) return `transport: ${o.error}${o.status ? ` (after status ${o.status})` : ''}`;
    const status = o.status!;
    const excerpt = `${status} ${(o.body ?? '').slice(0, 300).replace(/\s+/g, ' ')}`;
    if (status >= 500 && status !== x.upstream5xx) return `server error: ${excerpt}`;
    if (x.status !== undefined) {
      const allowed = Array.isArray(x.status) ? x.status : [x.status];
      if (!allowed.includes(status)) return `expected ${allowed.join(' or ')}, got ${excerpt}`;
    } else if (status >= 200 && status < 300) {
      if (!x.valid) return `expected a 4xx, got ${excerpt}`;
    } else if (!(status >= 400 && status < 500) && status !== x.upstream5xx) {
      return `expected a 4xx${x.valid ? ' or 2xx' : ''}, got ${excerpt}`;
    }
    if (status >= 400 && !x.plain) {
      let parsed: any;
      try {
        parsed = JSON.parse(o.body ?? '');
      } catch {
        return `a ${status} without a Status body: ${excerpt}`;
      }
      if (parsed?.kind !== 'Status' || parsed.code !== status)
        return `a ${status} whose body is not a matching Status: ${excerpt}`;
      if (x.message && !x.message.test(String(parsed.message)))
        return `message does not match ${x.message}: ${excerpt}`;
    } else if (status >= 200 && status < 300 && x.forbidBody?.test(o.body ?? '')) {
      return `a ${status} that leaks what it must not (${x.forbidBody}): ${excerpt}`;
    } else if (status >= 200 && status < 300 && !x.stream && o.contentType?.startsWith('application/json')) {
      try {
        JSON.parse(o.body ?? '');
      } catch {
        return `a ${status} whose JSON body does not parse: ${excerpt}`;
      }
    }
    return undefined;
  }

  repro(c: Case): string {
    return `HOSTILE_SEED=${this.seed} HOSTILE_CASE='${c.id}' node --test dist/test/e2e/hostile.test.js  # ${c.method} ${c.path.length > 160 ? `${c.path.slice(0, 160)}… (${c.path.length} chars)` : c.path} ${c.contentType ?? ''} ${describeBody(c.body)}`;
  }

  private restarting?: Promise<string | undefined>;

  /** Is the server still there and answering? If not, restart it (and say why). One restart at a time. */
  private async aliveOrRestarted(after: string): Promise<string | undefined> {
    if (this.restarting) {
      await this.restarting;
      return undefined;
    }
    this.restarting = this.checkOrRestart(after);
    try {
      return await this.restarting;
    } finally {
      this.restarting = undefined;
    }
  }

  private async checkOrRestart(after: string): Promise<string | undefined> {
    const proc = this.cluster.proc;
    let why: string | undefined;
    if (proc.exitCode !== null || proc.signalCode !== null)
      why = `server process exited (${proc.exitCode ?? proc.signalCode})`;
    else {
      // Two tries of 10 s: a busy server on a loaded machine is slow, not dead.
      let r = await this.send({ method: 'GET', path: '/readyz' }, 10_000);
      if (r.status !== 200 && proc.exitCode === null) r = await this.send({ method: 'GET', path: '/readyz' }, 10_000);
      if (r.status === 200) return undefined;
      why = `server unresponsive (/readyz: ${r.error ?? r.status}, twice)`;
      proc.kill('SIGKILL');
    }
    this.restarts.push(after);
    await this.cluster.restart();
    this.connect();
    await this.onRestart();
    return `${why} after case ${after}; restarted`;
  }

  /** Every CHECKPOINT_EVERY requests: /readyz is 200 and a plain ConfigMap create works. */
  async checkpoint(): Promise<string | undefined> {
    this.sinceCheckpoint = 0;
    const ready = await this.send({ method: 'GET', path: '/readyz' }, 5_000);
    if (ready.status !== 200) return `/readyz answered ${ready.status ?? ready.error}`;
    const name = `hostile-health-${this.requests}`;
    const created = await this.send({
      method: 'POST',
      path: '/api/v1/namespaces/default/configmaps',
      body: JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, labels: { 'hostile-suite': 'health' } },
        data: { ok: 'yes' },
      }),
    });
    if (created.status !== 201)
      return `a plain ConfigMap create answered ${created.status ?? created.error}: ${created.body?.slice(0, 200)}`;
    await this.send({ method: 'DELETE', path: `/api/v1/namespaces/default/configmaps/${name}` });
    return undefined;
  }

  /**
   * Run a class of cases, `concurrency` at a time, checkpointing every 100 requests. Returns the
   * failures (also printed with the seed and a one-line repro each).
   */
  async run(cases: Case[], concurrency = 4): Promise<Failure[]> {
    const failures: Failure[] = [];
    const ids = new Set<string>();
    for (const c of cases) {
      if (ids.has(c.id)) throw new Error(`duplicate case id ${c.id}`);
      ids.add(c.id);
    }
    const only = this.only;
    // HOSTILE_CASE=<id> runs one case; a trailing * makes it a prefix (HOSTILE_CASE='deep/*').
    const todo = only
      ? cases.filter((c) => (only.endsWith('*') ? c.id.startsWith(only.slice(0, -1)) : c.id === only))
      : cases;
    let next = 0;
    const slowest: [number, string][] = [];
    const worker = async () => {
      while (next < todo.length) {
        const c = todo[next++];
        const started = Date.now();
        const o = await this.send(c);
        slowest.push([Date.now() - started, c.id]);
        const problem = this.judge(c, o);
        if (problem) failures.push({ id: c.id, problem, repro: this.repro(c) });
        if (o.error || (o.status ?? 0) >= 500) {
          const restarted = await this.aliveOrRestarted(c.id);
          if (restarted) failures.push({ id: c.id, problem: restarted, repro: this.repro(c) });
        }
        if (this.sinceCheckpoint >= CHECKPOINT_EVERY) {
          const bad = await this.checkpoint();
          if (bad) {
            failures.push({ id: c.id, problem: `health check after this case: ${bad}`, repro: this.repro(c) });
            const restarted = await this.aliveOrRestarted(c.id);
            if (restarted) failures.push({ id: c.id, problem: restarted, repro: this.repro(c) });
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
    slowest.sort((a, b) => b[0] - a[0]);
    console.log(
      `# hostile slowest: ${slowest
        .slice(0, 3)
        .map(([ms, id]) => `${id} ${ms} ms`)
        .join(', ')}`,
    );
    const bad = await this.checkpoint();
    if (bad) failures.push({ id: '(end of class)', problem: `health check: ${bad}`, repro: '' });
    for (const f of failures) {
      console.log(`# hostile FAIL [seed ${this.seed}] ${f.id}: ${f.problem}\n#   repro: ${f.repro}`);
      // HOSTILE_REPORT=<file>: one JSON line per failure, for triage across runs.
      if (process.env.HOSTILE_REPORT)
        appendFileSync(process.env.HOSTILE_REPORT, `${JSON.stringify({ seed: this.seed, ...f })}\n`);
    }
    return failures;
  }
}

/** The failures of a class as one assertion message (count, seed, the first few with repros). */
export function summarize(cls: string, seed: number, total: number, failures: Failure[]): string {
  const shown = failures.slice(0, 12).map((f) => `  - ${f.id}: ${f.problem}\n    ${f.repro}`);
  return `${cls}: ${failures.length} of ${total} cases failed (seed ${seed})\n${shown.join('\n')}${failures.length > 12 ? `\n  … and ${failures.length - 12} more (see the # hostile FAIL lines)` : ''}`;
}

/** The server process's resident set size in bytes, from /proc/<pid>/status (Linux). */
export function serverRssBytes(cluster: Cluster): number {
  const status = readFileSync(`/proc/${cluster.proc.pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!m) throw new Error('no VmRSS in /proc status');
  return Number(m[1]) * 1024;
}

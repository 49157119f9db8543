// The blue/green pre-promotion check in k8ts' simple form (types.ts RolloutAnalysis):
// - http: GET `url`, or `path` on `port` of every ready pod of the new version; every answer must
//   be 2xx (one failed round fails the check: the new version stays behind the preview Service
//   and the Rollout aborts);
// - job: a Job `<rollout>-<hash>-pre` from the given spec, owned by the Rollout; it succeeds when
//   the Job completes and fails when the Job fails.
// Results are kept per Rollout and hash while the controller runs; the Rollout's status keeps the
// last one (status.blueGreen.prePromotionAnalysisRunStatus), so a restart does not run it again.
import type { Job } from 'kubernetes-types/batch/v1.js';
import { R, type Client } from '../client/client.js';
import { isNotFound } from '../client/errors.js';
import {
  ROLLOUT_API_VERSION,
  ROLLOUT_KIND,
  type AnalysisRunStatus,
  type Rollout,
  type RolloutAnalysis,
} from './types.js';

export const analysisName = (ro: Rollout, hash: string) => `${ro.metadata?.name}-${hash}-pre`;

/** One round of the HTTP check over these URLs. */
export async function httpCheck(urls: string[], timeoutSeconds = 5): Promise<string> {
  if (!urls.length) return 'no ready pods to check';
  for (const url of urls) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutSeconds * 1000) });
      await res.arrayBuffer();
      if (res.status < 200 || res.status > 299) return `${url} answered ${res.status}`;
    } catch (err) {
      return `${url}: ${(err as Error).message}`;
    }
  }
  return 'Successful';
}

export function checkUrls(a: RolloutAnalysis, podIPs: string[]): string[] {
  const http = a.http;
  if (!http) return [];
  if (http.url) return [http.url];
  const path = http.path?.startsWith('/') ? http.path : `/${http.path ?? ''}`;
  return podIPs.map((ip) => `http://${ip.includes(':') ? `[${ip}]` : ip}:${http.port ?? 80}${path}`);
}

/** The Job's state as an analysis result (Running until it completes or fails). */
export function jobResult(job: Job | undefined, name: string): AnalysisRunStatus {
  const cond = (t: string) => job?.status?.conditions?.some((c) => c.type === t && c.status === 'True');
  if (cond('Complete')) return { name, status: 'Successful' };
  if (cond('Failed')) return { name, status: 'Failed', message: `Job ${name} failed` };
  return { name, status: 'Running' };
}

export class AnalysisRunner {
  private readonly results = new Map<string, AnalysisRunStatus>();
  private readonly running = new Set<string>();

  constructor(private readonly client: Client) {}

  result(ro: Rollout, hash: string): AnalysisRunStatus | undefined {
    const name = analysisName(ro, hash);
    const known = this.results.get(`${ro.metadata?.uid}/${name}`);
    if (known) return known;
    const saved = ro.status?.blueGreen?.prePromotionAnalysisRunStatus;
    return saved?.name === name && saved.status !== 'Pending' && saved.status !== 'Running' ? saved : undefined;
  }

  /** Starts (or polls) the check; `done` is called when a result is in. */
  run(ro: Rollout, hash: string, podIPs: string[], done: () => void): void {
    const a = ro.spec.strategy.blueGreen?.prePromotionAnalysis;
    const name = analysisName(ro, hash);
    const key = `${ro.metadata?.uid}/${name}`;
    if (!a || this.running.has(key) || this.results.get(key)?.status === 'Successful') return;
    this.running.add(key);
    const set = (r: AnalysisRunStatus) => {
      this.results.set(key, r);
      if (r.status !== 'Running') done();
    };
    const work = a.job ? this.pollJob(ro, name, a) : this.runHttp(name, a, podIPs);
    void work
      .then(set, (err: Error) => set({ name, status: 'Error', message: err.message }))
      .finally(() => this.running.delete(key));
  }

  private async runHttp(name: string, a: RolloutAnalysis, podIPs: string[]): Promise<AnalysisRunStatus> {
    const outcome = await httpCheck(checkUrls(a, podIPs), a.http?.timeoutSeconds);
    if (outcome === 'Successful') return { name, status: 'Successful' };
    if (outcome === 'no ready pods to check') return { name, status: 'Running', message: outcome };
    return { name, status: 'Failed', message: outcome };
  }

  private async pollJob(ro: Rollout, name: string, a: RolloutAnalysis): Promise<AnalysisRunStatus> {
    const jobs = this.client.resource(R.jobs).namespace(ro.metadata?.namespace);
    try {
      return jobResult(await jobs.get(name), name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    await jobs.create({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name,
        namespace: ro.metadata?.namespace,
        ownerReferences: [
          {
            apiVersion: ROLLOUT_API_VERSION,
            kind: ROLLOUT_KIND,
            name: ro.metadata?.name ?? '',
            uid: ro.metadata?.uid ?? '',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: a.job!.spec,
    });
    return { name, status: 'Running' };
  }

  /** Forgets results of a deleted Rollout. */
  forget(uid: string): void {
    for (const key of this.results.keys()) if (key.startsWith(`${uid}/`)) this.results.delete(key);
  }
}

// Shared vocabulary of the probe runners and the probe manager.
//
// A runner turns one probe spec into one outcome. The outcome keeps upstream's four-way result
// (pkg/probe): "warning" is a success that deserves a ProbeWarning event (an HTTP redirect the
// kubelet would not follow), and "error" means the probe could not be run at all (for example a
// named port the container does not declare); the kubelet discards such results instead of
// counting them towards a threshold, and so does our manager.

import type { Container } from 'kubernetes-types/core/v1.js';
import type { ExecSyncResult } from '../runtime/types.js';

export type ProbeKind = 'liveness' | 'readiness' | 'startup';

export type ProbeResult = 'success' | 'warning' | 'failure' | 'error';

export interface ProbeOutcome {
  result: ProbeResult;
  /** Probe output: the response body, the command output, or the reason of a failure. */
  output: string;
}

/** Runs a command in the probed container; resolves when it exits (any exit code). */
export type ExecSyncFn = (cmd: string[], timeoutSeconds: number) => Promise<ExecSyncResult>;

/** Everything a runner needs to know about the container it probes. */
export interface ProbeContext {
  podIP: string;
  container: Container;
  execSync: ExecSyncFn;
  /** The probe's timeoutSeconds, already converted to milliseconds. */
  timeoutMs: number;
}

/**
 * The server version k8ts reports; probes identify themselves as `kube-probe/<major>.<minor>`
 * exactly like the kubelet of that version, since some applications match on it.
 */
export const PROBE_USER_AGENT = 'kube-probe/1.30';

/** Upstream stops reading an HTTP body or exec output after 10 KiB. */
export const MAX_PROBE_OUTPUT = 10 * 1024;

export function isSuccess(outcome: ProbeOutcome): boolean {
  return outcome.result === 'success' || outcome.result === 'warning';
}

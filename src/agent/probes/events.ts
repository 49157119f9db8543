// The event texts the kubelet records about probes, in one place so that the agent (which owns
// the event recorder) prints exactly what users and tools expect to see in `kubectl describe`.

import type { ProbeKind, ProbeOutcome } from './types.js';

export interface ProbeEventText {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** "Liveness", "Readiness", "Startup": how upstream names probe kinds in messages. */
export function probeKindTitle(kind: ProbeKind): string {
  return kind === 'liveness' ? 'Liveness' : kind === 'readiness' ? 'Readiness' : 'Startup';
}

/**
 * The event for one probe outcome, or undefined when a plain success needs none:
 * failure -> Warning Unhealthy "Liveness probe failed: <output>",
 * warning -> Warning ProbeWarning "Readiness probe warning: <output>",
 * error   -> Warning Unhealthy "Startup probe errored and resulted in unknown state: <output>".
 */
export function probeResultEvent(kind: ProbeKind, outcome: ProbeOutcome): ProbeEventText | undefined {
  const title = probeKindTitle(kind);
  switch (outcome.result) {
    case 'success':
      return undefined;
    case 'warning':
      return { type: 'Warning', reason: 'ProbeWarning', message: `${title} probe warning: ${outcome.output}` };
    case 'failure':
      return { type: 'Warning', reason: 'Unhealthy', message: `${title} probe failed: ${outcome.output}` };
    case 'error':
      return {
        type: 'Warning',
        reason: 'Unhealthy',
        message: `${title} probe errored and resulted in unknown state: ${outcome.output}`,
      };
  }
}

/** The Killing event the agent records before restarting a container whose probe failed. */
export function probeKillingEvent(kind: 'liveness' | 'startup', containerName: string): ProbeEventText {
  return {
    type: 'Normal',
    reason: 'Killing',
    message: `Container ${containerName} failed ${kind} probe, will be restarted`,
  };
}

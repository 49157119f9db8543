// Probe timing and thresholds with the API defaults applied. The API server normally defaults
// these fields already; the agent applies them again so that a pod from an older or foreign
// source cannot make a worker spin (period 0) or never fire.

import type { Probe } from 'kubernetes-types/core/v1.js';
import type { ProbeKind } from './types.js';

export interface ProbeSettings {
  initialDelaySeconds: number;
  periodSeconds: number;
  timeoutSeconds: number;
  successThreshold: number;
  failureThreshold: number;
}

function atLeast(value: number | undefined, fallback: number, min: number): number {
  if (value === undefined || !Number.isFinite(value)) return fallback;
  return Math.max(min, Math.floor(value));
}

export function probeSettings(kind: ProbeKind, probe: Probe): ProbeSettings {
  return {
    initialDelaySeconds: atLeast(probe.initialDelaySeconds, 0, 0),
    periodSeconds: atLeast(probe.periodSeconds, 10, 1),
    timeoutSeconds: atLeast(probe.timeoutSeconds, 1, 1),
    // Validation requires 1 for liveness and startup probes: one success is all it takes.
    successThreshold: kind === 'readiness' ? atLeast(probe.successThreshold, 1, 1) : 1,
    failureThreshold: atLeast(probe.failureThreshold, 3, 1),
  };
}

// A node condition as a kubelet reports it: the heartbeat time is now; the transition time moves
// only when the status changes (kept from the previous report otherwise). Real agents and
// simulated nodes build their conditions with it.
import type { NodeCondition } from 'kubernetes-types/core/v1.js';
import { rfc3339 } from '../machinery/time.js';

/** metav1.Time: RFC 3339 in whole seconds. */

export function nodeCondition(
  previous: NodeCondition[] | undefined,
  now: number,
  type: string,
  status: string,
  reason: string,
  message: string,
): NodeCondition {
  const prev = (previous ?? []).find((c) => c.type === type);
  return {
    type,
    status,
    lastHeartbeatTime: rfc3339(now),
    lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : rfc3339(now),
    reason,
    message,
  };
}

// The shapes the pod sync path works on: pods as the agent gets them from the API and any of a
// pod's containers (init, main or ephemeral).
import type { Container, EphemeralContainer, Pod } from 'kubernetes-types/core/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';

/** A pod read from the API: the server always sets its name and uid (kubernetes-types marks them optional). */
export type AgentPod = Pod & { metadata: ObjectMeta & { name: string; uid: string } };

/** Any container of a pod: an ephemeral one has the same fields plus the container it targets. */
export type PodContainer = Container & Pick<EphemeralContainer, 'targetContainerName'>;

/** Every init, main and ephemeral container of a pod, in that order. */
export function allContainers(pod: Pod): PodContainer[] {
  return [
    ...(pod.spec?.initContainers ?? []),
    ...(pod.spec?.containers ?? []),
    ...(pod.spec?.ephemeralContainers ?? []),
  ];
}

// Server-side printer columns (kubectl get) for HorizontalPodAutoscalers, in the autoscaling/v2
// shape and the autoscaling/v1 shape, matching upstream's printers.
import type { HorizontalPodAutoscaler, MetricSpec, MetricStatus } from 'kubernetes-types/autoscaling/v2.js';
import type { HorizontalPodAutoscaler as HorizontalPodAutoscalerV1 } from 'kubernetes-types/autoscaling/v1.js';
import type { TableColumn } from '../../types.js';
import { NONE, UNKNOWN, UNSET, ageColumn, nameColumn, quantityString } from '../../printing.js';

/** A possibly absent quantity as Go's (*Quantity).String() prints it (`<nil>` when absent). */
function q(value: string | number | undefined): string {
  return value === undefined || value === null ? '<nil>' : quantityString(value);
}

/** The TARGETS cell: `cpu: 50%/80%`, `<unknown>/500m`, …, at most two then ` + N more...`. */
export function formatHPAMetrics(
  specs: readonly MetricSpec[] | undefined,
  statuses: readonly MetricStatus[] | undefined,
): string {
  if (!specs?.length) return NONE;
  const cur = statuses ?? [];
  const list: string[] = [];
  specs.forEach((spec, i) => {
    const st = cur[i];
    switch (spec.type) {
      case 'External': {
        const target = spec.external?.target;
        if (target?.averageValue !== undefined) {
          const current =
            st?.external?.current?.averageValue !== undefined ? q(st.external.current.averageValue) : UNKNOWN;
          list.push(`${current}/${q(target.averageValue)} (avg)`);
        } else {
          const current = st?.external ? q(st.external.current?.value) : UNKNOWN;
          list.push(`${current}/${q(target?.value)}`);
        }
        break;
      }
      case 'Pods': {
        const current = st?.pods ? q(st.pods.current?.averageValue) : UNKNOWN;
        list.push(`${current}/${q(spec.pods?.target?.averageValue)}`);
        break;
      }
      case 'Object': {
        const target = spec.object?.target;
        if (target?.averageValue !== undefined) {
          const current = st?.object?.current?.averageValue !== undefined ? q(st.object.current.averageValue) : UNKNOWN;
          list.push(`${current}/${q(target.averageValue)} (avg)`);
        } else {
          const current = st?.object ? q(st.object.current?.value) : UNKNOWN;
          list.push(`${current}/${q(target?.value)}`);
        }
        break;
      }
      case 'Resource':
      case 'ContainerResource': {
        const res = spec.type === 'Resource' ? spec.resource : spec.containerResource;
        const stRes = spec.type === 'Resource' ? st?.resource : st?.containerResource;
        const name = res?.name ?? '';
        const target = res?.target;
        if (target?.averageValue !== undefined) {
          const current = stRes ? q(stRes.current?.averageValue) : UNKNOWN;
          list.push(`${name}: ${current}/${q(target.averageValue)}`);
        } else {
          const util = stRes?.current?.averageUtilization;
          const current = util !== undefined && util !== null ? `${util}%` : UNKNOWN;
          const goal =
            target?.averageUtilization !== undefined && target.averageUtilization !== null
              ? `${target.averageUtilization}%`
              : '<auto>';
          list.push(`${name}: ${current}/${goal}`);
        }
        break;
      }
      default:
        list.push('<unknown type>');
    }
  });
  const max = 2;
  if (list.length > max) return `${list.slice(0, max).join(', ')} + ${list.length - max} more...`;
  return list.join(', ');
}

function referenceCell(ref: { kind?: string; name?: string } | undefined): string {
  return `${ref?.kind ?? ''}/${ref?.name ?? ''}`;
}

function minPods(min: number | undefined): string {
  return min === undefined || min === null ? UNSET : String(min);
}

const descriptions = {
  reference: 'The workload being scaled.',
  targets: 'Current and target values of the metrics.',
  minPods: 'Lower limit of replicas.',
  maxPods: 'Upper limit of replicas.',
  replicas: 'Current number of replicas.',
};

export const horizontalPodAutoscalerColumns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Reference',
    type: 'string',
    description: descriptions.reference,
    cell: (o: HorizontalPodAutoscaler) => referenceCell(o.spec?.scaleTargetRef),
  },
  {
    name: 'Targets',
    type: 'string',
    description: descriptions.targets,
    cell: (o: HorizontalPodAutoscaler) => formatHPAMetrics(o.spec?.metrics, o.status?.currentMetrics),
  },
  {
    name: 'MinPods',
    type: 'string',
    description: descriptions.minPods,
    cell: (o: HorizontalPodAutoscaler) => minPods(o.spec?.minReplicas),
  },
  {
    name: 'MaxPods',
    type: 'string',
    description: descriptions.maxPods,
    cell: (o: HorizontalPodAutoscaler) => o.spec?.maxReplicas ?? 0,
  },
  {
    name: 'Replicas',
    type: 'string',
    description: descriptions.replicas,
    cell: (o: HorizontalPodAutoscaler) => o.status?.currentReplicas ?? 0,
  },
  ageColumn(),
];

/** Default CPU utilization target when an autoscaling/v1 object sets none (as upstream defaults). */
const DEFAULT_CPU_UTILIZATION = 80;

/** TARGETS for the autoscaling/v1 shape: `cpu: 50%/80%` or `cpu: <unknown>/80%`. */
export function formatHPAV1Targets(o: HorizontalPodAutoscalerV1): string {
  const target = o.spec?.targetCPUUtilizationPercentage ?? DEFAULT_CPU_UTILIZATION;
  const current = o.status?.currentCPUUtilizationPercentage;
  return `cpu: ${current !== undefined && current !== null ? `${current}%` : UNKNOWN}/${target}%`;
}

export const horizontalPodAutoscalerV1Columns: TableColumn[] = [
  nameColumn(),
  {
    name: 'Reference',
    type: 'string',
    description: descriptions.reference,
    cell: (o: HorizontalPodAutoscalerV1) => referenceCell(o.spec?.scaleTargetRef),
  },
  {
    name: 'Targets',
    type: 'string',
    description: descriptions.targets,
    cell: (o: HorizontalPodAutoscalerV1) => formatHPAV1Targets(o),
  },
  {
    name: 'MinPods',
    type: 'string',
    description: descriptions.minPods,
    cell: (o: HorizontalPodAutoscalerV1) => minPods(o.spec?.minReplicas),
  },
  {
    name: 'MaxPods',
    type: 'string',
    description: descriptions.maxPods,
    cell: (o: HorizontalPodAutoscalerV1) => o.spec?.maxReplicas ?? 0,
  },
  {
    name: 'Replicas',
    type: 'string',
    description: descriptions.replicas,
    cell: (o: HorizontalPodAutoscalerV1) => o.status?.currentReplicas ?? 0,
  },
  ageColumn(),
];

// autoscaling: HorizontalPodAutoscaler, stored at v2 and served at v2 and v1.
import type { ResourceDef } from '../../types.js';
import { horizontalPodAutoscalerResource } from './hpa.js';

export { horizontalPodAutoscalerResource };

export const resources: ResourceDef[] = [horizontalPodAutoscalerResource];

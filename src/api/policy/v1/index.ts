// policy/v1: PodDisruptionBudget (eviction is a pods subresource, served elsewhere).
import type { ResourceDef } from '../../types.js';
import { podDisruptionBudgetResource } from './poddisruptionbudget.js';

export { podDisruptionBudgetResource };

export const resources: ResourceDef[] = [podDisruptionBudgetResource];

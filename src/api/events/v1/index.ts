// events.k8s.io/v1: Event (shares storage with core/v1 events).
import type { ResourceDef } from '../../types.js';
import { eventResource } from './event.js';

export { eventResource };

export const resources: ResourceDef[] = [eventResource];

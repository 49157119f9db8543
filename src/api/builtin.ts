// Every built-in resource definition, core first (discovery and kubectl's name resolution
// follow this order within a group).
import type { ResourceDef } from './types.js';
import { resources as core } from './core/v1/index.js';
import { resources as apps } from './apps/v1/index.js';
import { resources as batch } from './batch/v1/index.js';
import { resources as autoscaling } from './autoscaling/v2/index.js';
import { resources as networking } from './networking/v1/index.js';
import { resources as discovery } from './discovery/v1/index.js';
import { resources as coordination } from './coordination/v1/index.js';
import { resources as events } from './events/v1/index.js';
import { resources as policy } from './policy/v1/index.js';
import { resources as rbac } from './rbac/v1/index.js';
import { resources as storage } from './storage/v1/index.js';
import { resources as scheduling } from './scheduling/v1/index.js';
import { resources as node } from './node/v1/index.js';
import { resources as admissionregistration } from './admissionregistration/v1/index.js';
import { resources as apiextensions } from './apiextensions/v1/index.js';
import { resources as authentication } from './authentication/v1/index.js';
import { resources as authorization } from './authorization/v1/index.js';
import { resources as metrics } from './metrics/v1beta1/index.js';
import { resources as apiregistration } from './apiregistration/v1/index.js';
import { resources as certificates } from './certificates/v1/index.js';
import { resources as flowcontrol } from './flowcontrol/v1/index.js';

export function builtinResources(): ResourceDef[] {
  return [
    ...core,
    ...apiregistration,
    ...apps,
    ...events,
    ...authentication,
    ...authorization,
    ...autoscaling,
    ...batch,
    ...certificates,
    ...flowcontrol,
    ...networking,
    ...policy,
    ...rbac,
    ...storage,
    ...admissionregistration,
    ...apiextensions,
    ...scheduling,
    ...coordination,
    ...node,
    ...discovery,
    ...metrics,
  ];
}

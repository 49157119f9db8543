// batch/v1: Jobs and CronJobs.
import type { ResourceDef } from '../../types.js';
import { cronJobResource } from './cronjob.js';
import { jobResource } from './job.js';

export { cronJobResource, jobResource };

export const resources: ResourceDef[] = [jobResource, cronJobResource];

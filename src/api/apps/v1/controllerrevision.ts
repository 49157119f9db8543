// apps/v1 ControllerRevision: an immutable snapshot of a workload's template.
import type { ResourceDef } from '../../types.js';
import { type FieldError, path, required } from '../../../machinery/fielderrors.js';
import { validateNonnegative } from '../../../machinery/validation.js';
import { controllerRevisionColumns } from './tables.js';
import { immutable } from './workload.js';

export function validateControllerRevision(obj: any): FieldError[] {
  const errs: FieldError[] = [];
  if (obj.data === undefined || obj.data === null) errs.push(required(path('data'), 'data is mandatory'));
  errs.push(...validateNonnegative(obj.revision, path('revision')));
  return errs;
}

export const controllerRevisionResource: ResourceDef = {
  group: 'apps',
  versions: [{ name: 'v1' }],
  kind: 'ControllerRevision',
  plural: 'controllerrevisions',
  singular: 'controllerrevision',
  namespaced: true,
  generationTracksSpec: false,
  validate: validateControllerRevision,
  validateUpdate: (obj, old) => immutable(obj.data, old.data, path('data')),
  table: controllerRevisionColumns,
};

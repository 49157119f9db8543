// core/v1 PodTemplate: a named PodTemplateSpec.
import type { ResourceDef } from '../../types.js';
import { path } from '../../../machinery/fielderrors.js';
import { podTemplateColumns } from './tables.js';
import { defaultPodTemplateSpec, validatePodTemplateSpec } from './podspec.js';

export const podTemplates: ResourceDef = {
  group: '',
  versions: [{ name: 'v1' }],
  kind: 'PodTemplate',
  plural: 'podtemplates',
  singular: 'podtemplate',
  namespaced: true,
  nameRule: 'dns1123-subdomain',
  generationTracksSpec: false,
  table: podTemplateColumns,
  defaults(obj: any) {
    obj.template ??= {};
    defaultPodTemplateSpec(obj.template);
  },
  validate: (obj: any) => validatePodTemplateSpec(obj.template, path('template')),
};

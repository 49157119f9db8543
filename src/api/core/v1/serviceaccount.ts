// core/v1 ServiceAccount: nothing beyond metadata is validated upstream.
import type { ResourceDef } from '../../types.js';
import { serviceAccountColumns } from './tables.js';

export const serviceAccounts: ResourceDef = {
  group: '',
  versions: [{ name: 'v1' }],
  kind: 'ServiceAccount',
  plural: 'serviceaccounts',
  singular: 'serviceaccount',
  shortNames: ['sa'],
  namespaced: true,
  nameRule: 'dns1123-subdomain',
  generationTracksSpec: false,
  table: serviceAccountColumns,
};

// core/v1 Secret: type default Opaque, stringData folded into data, per-type required keys,
// immutable type, immutable data.
import type { Secret } from 'kubernetes-types/core/v1.js';
import type { ResourceDef } from '../../types.js';
import { type FieldError, invalid, path, required, tooLong } from '../../../machinery/fielderrors.js';
import { isConfigMapKey } from '../../../machinery/validation.js';
import { secretColumns } from './tables.js';
import { MAX_SIZE, base64Length, validateImmutableData } from './configmap.js';
import { validateImmutableField } from './helpers.js';
import { setOwn } from '../../../machinery/objects.js';

export const SERVICE_ACCOUNT_NAME_KEY = 'kubernetes.io/service-account.name';
export const SERVICE_ACCOUNT_UID_KEY = 'kubernetes.io/service-account.uid';
export const SERVICE_ACCOUNT_TOKEN_TYPE = 'kubernetes.io/service-account-token';

/** SetDefaults_Secret plus the v1→internal conversion of stringData (which overwrites data). */
export function defaultSecret(secret: Secret): void {
  const s = secret as any;
  if (!s.type) s.type = 'Opaque';
  if (s.stringData && typeof s.stringData === 'object') {
    const entries = Object.entries(s.stringData as Record<string, unknown>);
    if (entries.length) {
      s.data ??= {};
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- stringData values are strings; anything else is coerced as before
      for (const [k, v] of entries) setOwn(s.data, k, Buffer.from(String(v ?? ''), 'utf8').toString('base64'));
    }
  }
  delete s.stringData;
}

function validJSON(b64: string | undefined): string | undefined {
  try {
    JSON.parse(Buffer.from(b64 ?? '', 'base64').toString('utf8'));
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

export function validateSecret(secret: Secret): FieldError[] {
  const s = secret as any;
  const errs: FieldError[] = [];
  const dp = path('data');
  const data: Record<string, string> = s.data ?? {};
  let total = 0;
  for (const [k, v] of Object.entries(data)) {
    for (const m of isConfigMapKey(k)) errs.push(invalid(dp.key(k), k, m));
    total += base64Length(v);
  }
  if (total > MAX_SIZE) errs.push(tooLong(dp, MAX_SIZE));
  const has = (k: string) => Object.prototype.hasOwnProperty.call(data, k);
  switch (s.type) {
    case SERVICE_ACCOUNT_TOKEN_TYPE:
      if (!s.metadata?.annotations?.[SERVICE_ACCOUNT_NAME_KEY]) {
        errs.push(required(path('metadata', 'annotations').key(SERVICE_ACCOUNT_NAME_KEY)));
      }
      break;
    case 'kubernetes.io/dockercfg': {
      if (!has('.dockercfg')) {
        errs.push(required(dp.key('.dockercfg')));
        break;
      }
      const e = validJSON(data['.dockercfg']);
      if (e) errs.push(invalid(dp.key('.dockercfg'), '<secret contents redacted>', e));
      break;
    }
    case 'kubernetes.io/dockerconfigjson': {
      if (!has('.dockerconfigjson')) {
        errs.push(required(dp.key('.dockerconfigjson')));
        break;
      }
      const e = validJSON(data['.dockerconfigjson']);
      if (e) errs.push(invalid(dp.key('.dockerconfigjson'), '<secret contents redacted>', e));
      break;
    }
    case 'kubernetes.io/basic-auth':
      if (!has('username') && !has('password')) {
        errs.push(required(dp.key('username')));
        errs.push(required(dp.key('password')));
      }
      break;
    case 'kubernetes.io/ssh-auth':
      if (!base64Length(data['ssh-privatekey'])) errs.push(required(dp.key('ssh-privatekey')));
      break;
    case 'kubernetes.io/tls':
      if (!has('tls.crt')) errs.push(required(dp.key('tls.crt')));
      if (!has('tls.key')) errs.push(required(dp.key('tls.key')));
      break;
    default:
      break;
  }
  return errs;
}

export const secrets: ResourceDef = {
  group: '',
  versions: [{ name: 'v1' }],
  kind: 'Secret',
  plural: 'secrets',
  singular: 'secret',
  namespaced: true,
  nameRule: 'dns1123-subdomain',
  generationTracksSpec: false,
  table: secretColumns,
  defaults: defaultSecret,
  validate: (obj: any) => validateSecret(obj),
  validateUpdate: (obj: any, old: any) => [
    ...validateImmutableField(obj.type, old.type, path('type')),
    ...validateImmutableData(obj, old, ['data']),
  ],
  fieldSelectors: {
    type: (o) => o.type ?? '',
  },
};

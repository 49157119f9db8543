// Kubernetes' CEL format library (library/format.go): format.named(name) and the format.<name>()
// constants, whose validate(string) gives optional.none() when valid or the list of errors —
// the same checks the API server's own validation uses.
import type { Environment } from '@marcbachmann/cel-js';
import { Optional } from '@marcbachmann/cel-js';
import {
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
} from '../../machinery/validation.js';
import { parseURL } from './urls.js';

export class CelFormat {
  constructor(
    readonly name: string,
    readonly check: (s: string) => string[],
  ) {}
}

class FormatNamespace {}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const BYTE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const FORMATS: Record<string, (s: string) => string[]> = {
  dns1123Label: isDNS1123Label,
  dns1123Subdomain: isDNS1123Subdomain,
  dns1035Label: isDNS1035Label,
  qualifiedName: isQualifiedName,
  labelValue: isValidLabelValue,
  dns1123LabelPrefix: (s) => isDNS1123Label(s.replace(/-$/, 'a')),
  dns1123SubdomainPrefix: (s) => isDNS1123Subdomain(s.replace(/[-.]$/, 'a')),
  dns1035LabelPrefix: (s) => isDNS1035Label(s.replace(/-$/, 'a')),
  uri: (s) => (parseURL(s) ? [] : ['invalid URI']),
  uuid: (s) => (UUID.test(s) ? [] : ['does not match the UUID format']),
  byte: (s) => (BYTE.test(s) ? [] : ['invalid base64']),
  date: (s) => (/^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(s)) ? [] : ['invalid date']),
  datetime: (s) => (!Number.isNaN(Date.parse(s)) && /^\d{4}-\d{2}-\d{2}T/.test(s) ? [] : ['invalid datetime']),
};

export function registerFormat(env: Environment): void {
  env.registerType('FormatNamespace', FormatNamespace).registerType('Format', CelFormat);
  env.registerConstant('format', 'FormatNamespace', new FormatNamespace());
  for (const [name, check] of Object.entries(FORMATS)) {
    const f = new CelFormat(name, check);
    env.registerFunction(`FormatNamespace.${name}(): Format`, () => f);
  }
  env
    .registerFunction('FormatNamespace.named(string): optional<Format>', (_ns: FormatNamespace, name: string) =>
      Object.hasOwn(FORMATS, name) ? Optional.of(new CelFormat(name, FORMATS[name])) : Optional.none(),
    )
    .registerFunction('Format.validate(string): optional<list<string>>', (f: CelFormat, s: string) => {
      const errs = f.check(s);
      return errs.length ? Optional.of(errs) : Optional.none();
    });
}

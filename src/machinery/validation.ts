// Generic validation rules with the exact messages of upstream
// k8s.io/apimachinery/pkg/util/validation, .../api/validation and .../apis/meta/v1/validation.
// The `is*` functions return plain messages (empty when valid); the `validate*` functions return
// FieldErrors built with the helpers of fielderrors.ts.
import type { LabelSelector, ObjectMeta, OwnerReference } from 'kubernetes-types/meta/v1.js';
import { type FieldError, type FieldPath, forbidden, invalid, required, tooLong } from './fielderrors.js';

/** How a resource's object names are validated (upstream's ValidateNameFunc choices). */
export type NameRule = 'dns1123-subdomain' | 'dns1123-label' | 'rfc1035-label' | 'path-segment';

// ---------------------------------------------------------------------------------------------
// Message helpers (upstream EmptyError, MaxLenError, RegexError, InclusiveRangeError)

export const emptyError = (): string => 'must be non-empty';
export const maxLenError = (n: number): string => `must be no more than ${n} characters`;
export const inclusiveRangeError = (lo: number, hi: number): string => `must be between ${lo} and ${hi}, inclusive`;

/** Upstream RegexError, including its quirky "'a',  or 'b', " spacing. */
export function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`;
  let s = `${msg} (e.g. `;
  examples.forEach((e, i) => {
    if (i > 0) s += ' or ';
    s += `'${e}', `;
  });
  return `${s}regex used for validation is '${fmt}')`;
}

export const IS_NEGATIVE_ERROR_MSG = 'must be greater than or equal to 0';
export const FIELD_IMMUTABLE_ERROR_MSG = 'field is immutable';

/** Length in bytes as Go's len() on a string (UTF-8). */
const blen = (s: string): number => Buffer.byteLength(s, 'utf8');

// ---------------------------------------------------------------------------------------------
// Names

const qnameCharFmt = '[A-Za-z0-9]';
const qnameExtCharFmt = '[-A-Za-z0-9_.]';
const qualifiedNameFmt = `(${qnameCharFmt}${qnameExtCharFmt}*)?${qnameCharFmt}`;
const qualifiedNameErrMsg =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const qualifiedNameMaxLength = 63;
const qualifiedNameRe = new RegExp(`^${qualifiedNameFmt}$`);

/** Label and annotation keys: an optional DNS-1123 subdomain prefix and '/', then a name. */
export function isQualifiedName(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name: string;
  if (parts.length === 1) {
    name = parts[0];
  } else if (parts.length === 2) {
    const prefix = parts[0];
    name = parts[1];
    if (prefix.length === 0) errs.push(`prefix part ${emptyError()}`);
    else for (const m of isDNS1123Subdomain(prefix)) errs.push(`prefix part ${m}`);
  } else {
    errs.push(
      `a qualified name ${regexError(qualifiedNameErrMsg, qualifiedNameFmt, 'MyName', 'my.name', '123-abc')}` +
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    );
    return errs;
  }
  if (name.length === 0) errs.push(`name part ${emptyError()}`);
  else if (blen(name) > qualifiedNameMaxLength) errs.push(`name part ${maxLenError(qualifiedNameMaxLength)}`);
  if (!qualifiedNameRe.test(name))
    errs.push(`name part ${regexError(qualifiedNameErrMsg, qualifiedNameFmt, 'MyName', 'my.name', '123-abc')}`);
  return errs;
}

const labelValueFmt = `(${qualifiedNameFmt})?`;
const labelValueErrMsg =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
export const LABEL_VALUE_MAX_LENGTH = 63;
const labelValueRe = new RegExp(`^${labelValueFmt}$`);

export function isValidLabelValue(value: string): string[] {
  const errs: string[] = [];
  if (blen(value) > LABEL_VALUE_MAX_LENGTH) errs.push(maxLenError(LABEL_VALUE_MAX_LENGTH));
  if (!labelValueRe.test(value)) errs.push(regexError(labelValueErrMsg, labelValueFmt, 'MyValue', 'my_value', '12345'));
  return errs;
}

const dns1123LabelFmt = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const dns1123LabelErrMsg =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
export const DNS1123_LABEL_MAX_LENGTH = 63;
const dns1123LabelRe = new RegExp(`^${dns1123LabelFmt}$`);

const dns1123SubdomainFmt = `${dns1123LabelFmt}(\\.${dns1123LabelFmt})*`;
const dns1123SubdomainErrMsg =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
export const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;
const dns1123SubdomainRe = new RegExp(`^${dns1123SubdomainFmt}$`);

export function isDNS1123Label(value: string): string[] {
  const errs: string[] = [];
  if (blen(value) > DNS1123_LABEL_MAX_LENGTH) errs.push(maxLenError(DNS1123_LABEL_MAX_LENGTH));
  if (!dns1123LabelRe.test(value)) {
    // A valid subdomain that is not a valid label (length already checked) has dots.
    if (dns1123SubdomainRe.test(value)) errs.push('must not contain dots');
    else errs.push(regexError(dns1123LabelErrMsg, dns1123LabelFmt, 'my-name', '123-abc'));
  }
  return errs;
}

export function isDNS1123Subdomain(value: string): string[] {
  const errs: string[] = [];
  if (blen(value) > DNS1123_SUBDOMAIN_MAX_LENGTH) errs.push(maxLenError(DNS1123_SUBDOMAIN_MAX_LENGTH));
  if (!dns1123SubdomainRe.test(value))
    errs.push(regexError(dns1123SubdomainErrMsg, dns1123SubdomainFmt, 'example.com'));
  return errs;
}

const dns1035LabelFmt = '[a-z]([-a-z0-9]*[a-z0-9])?';
const dns1035LabelErrMsg =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
export const DNS1035_LABEL_MAX_LENGTH = 63;
const dns1035LabelRe = new RegExp(`^${dns1035LabelFmt}$`);

export function isDNS1035Label(value: string): string[] {
  const errs: string[] = [];
  if (blen(value) > DNS1035_LABEL_MAX_LENGTH) errs.push(maxLenError(DNS1035_LABEL_MAX_LENGTH));
  if (!dns1035LabelRe.test(value)) errs.push(regexError(dns1035LabelErrMsg, dns1035LabelFmt, 'my-name', 'abc-123'));
  return errs;
}

/** Upstream path.IsValidPathSegmentName: what may appear as one segment of a URL path. */
export function isPathSegmentName(value: string): string[] {
  for (const bad of ['.', '..']) if (value === bad) return [`may not be '${bad}'`];
  return isPathSegmentPrefix(value);
}

/** Upstream path.IsValidPathSegmentPrefix (used for generateName). */
export function isPathSegmentPrefix(value: string): string[] {
  const errs: string[] = [];
  for (const bad of ['/', '%']) if (value.includes(bad)) errs.push(`may not contain '${bad}'`);
  return errs;
}

/** Upstream maskTrailingDash: lets a generateName end with '-'. */
function maskTrailingDash(name: string): string {
  if (name.length > 1 && name.endsWith('-')) return `${name.slice(0, -2)}a`;
  return name;
}

/**
 * A name validated by rule. With `prefix` true the value is a generateName (upstream
 * ValidateNameFunc(name, prefix)): a trailing '-' is allowed.
 */
export function nameIsValid(rule: NameRule, name: string, prefix = false): string[] {
  switch (rule) {
    case 'dns1123-subdomain':
      return isDNS1123Subdomain(prefix ? maskTrailingDash(name) : name);
    case 'dns1123-label':
      return isDNS1123Label(prefix ? maskTrailingDash(name) : name);
    case 'rfc1035-label':
      return isDNS1035Label(prefix ? maskTrailingDash(name) : name);
    case 'path-segment':
      return prefix ? isPathSegmentPrefix(name) : isPathSegmentName(name);
  }
}

// ---------------------------------------------------------------------------------------------
// Ports, IPs, misc keys

export function isValidPortNum(port: number): string[] {
  if (Number.isInteger(port) && port >= 1 && port <= 65535) return [];
  return [inclusiveRangeError(1, 65535)];
}

/** IANA_SVC_NAME (RFC 6335): at most 15 chars, a-z0-9 and '-', a letter, no '--', no edge '-'. */
export function isValidPortName(port: string): string[] {
  const errs: string[] = [];
  if (blen(port) > 15) errs.push(maxLenError(15));
  if (!/^[-a-z0-9]+$/.test(port)) errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (!/[a-z]/.test(port)) errs.push('must contain at least one letter (a-z)');
  if (port.includes('--')) errs.push('must not contain consecutive hyphens');
  if (port.length > 0 && (port.startsWith('-') || port.endsWith('-'))) errs.push('must not begin or end with a hyphen');
  return errs;
}

/** Parses an IPv4 address like Go's netutils.ParseIPSloppy (leading zeros allowed, decimal). */
function parseIPv4(s: string): number[] | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^[0-9]{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out.push(n);
  }
  return out;
}

/** Eight 16-bit groups, or null (Go net.ParseIP rules: one "::" standing for >= 1 group, no zone). */
function parseIPv6(s: string): number[] | null {
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::')) return null;
  const side = (text: string, allowV4: boolean): number[] | null => {
    if (text === '') return [];
    const parts = text.split(':');
    const out: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const g = parts[i];
      if (allowV4 && i === parts.length - 1 && g.includes('.')) {
        const v4 = parseIPv4(g);
        if (!v4) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) {
        out.push(parseInt(g, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  if (dbl < 0) {
    const all = side(s, true);
    return all && all.length === 8 ? all : null;
  }
  const head = side(s.slice(0, dbl), false);
  const tail = side(s.slice(dbl + 2), true);
  if (!head || !tail || head.length + tail.length > 7) return null;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** 4 or 16 bytes, or null when `s` is not an IP address (Go net.ParseIP, sloppy IPv4). */
export function parseIP(s: string): Uint8Array | null {
  if (s.includes(':')) {
    const g = parseIPv6(s);
    if (!g) return null;
    const b = new Uint8Array(16);
    g.forEach((v, i) => {
      b[2 * i] = v >> 8;
      b[2 * i + 1] = v & 0xff;
    });
    return b;
  }
  const v4 = parseIPv4(s);
  return v4 ? Uint8Array.from(v4) : null;
}

export function isValidIP(s: string): string[] {
  return parseIP(s) ? [] : ['must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'];
}

export function isValidIPv4Address(s: string): string[] {
  const b = parseIP(s);
  if (!b || b.length !== 4) return ['must be a valid IPv4 address'];
  return [];
}

export function isValidIPv6Address(s: string): string[] {
  const b = parseIP(s);
  if (!b || b.length !== 16) return ['must be a valid IPv6 address'];
  return [];
}

export function isValidCIDR(s: string): string[] {
  const msg = ['must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'];
  const slash = s.indexOf('/');
  if (slash < 0) return msg;
  const ip = parseIP(s.slice(0, slash));
  const bits = s.slice(slash + 1);
  if (!ip || !/^[0-9]{1,3}$/.test(bits)) return msg;
  // Go's ParseCIDR rejects an IPv4-mapped/embedded form with a v4 prefix length past 32 etc.
  if (Number(bits) > ip.length * 8) return msg;
  return [];
}

const envVarNameFmt = '[-._a-zA-Z][-._a-zA-Z0-9]*';
const envVarNameErrMsg =
  "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit";
const envVarNameRe = new RegExp(`^${envVarNameFmt}$`);

function hasChDirPrefix(value: string): string[] {
  if (value === '.') return ["must not be '.'"];
  if (value === '..') return ["must not be '..'"];
  if (value.startsWith('..')) return ["must not start with '..'"];
  return [];
}

export function isEnvVarName(value: string): string[] {
  const errs: string[] = [];
  if (!envVarNameRe.test(value))
    errs.push(regexError(envVarNameErrMsg, envVarNameFmt, 'my.env-name', 'MY_ENV.NAME', 'MyEnvName1'));
  errs.push(...hasChDirPrefix(value));
  return errs;
}

const configMapKeyFmt = '[-._a-zA-Z0-9]+';
const configMapKeyErrMsg = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
const configMapKeyRe = new RegExp(`^${configMapKeyFmt}$`);

export function isConfigMapKey(value: string): string[] {
  // The usual short, valid key is decided by one regular expression (ConfigMaps hold up to
  // tens of thousands of keys, and this runs for each).
  if (value.length <= DNS1123_SUBDOMAIN_MAX_LENGTH && configMapKeyRe.test(value) && !value.startsWith('.')) return [];
  const errs: string[] = [];
  if (blen(value) > DNS1123_SUBDOMAIN_MAX_LENGTH) errs.push(maxLenError(DNS1123_SUBDOMAIN_MAX_LENGTH));
  if (!configMapKeyRe.test(value))
    errs.push(regexError(configMapKeyErrMsg, configMapKeyFmt, 'key.name', 'KEY_NAME', 'key-name'));
  errs.push(...hasChDirPrefix(value));
  return errs;
}

const httpPathFmt = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+";
const httpPathRe = new RegExp(`^${httpPathFmt}$`);

/** Upstream IsDomainPrefixedPath, e.g. "acme.io/foo" (returns field errors, as upstream). */
export function isDomainPrefixedPath(p: FieldPath, dpPath: string): FieldError[] {
  if (dpPath.length === 0) return [required(p)];
  const slash = dpPath.indexOf('/');
  const host = slash < 0 ? dpPath : dpPath.slice(0, slash);
  const rest = slash < 0 ? '' : dpPath.slice(slash + 1);
  if (slash < 0 || host.length === 0 || rest.length === 0)
    return [invalid(p, dpPath, 'must be a domain-prefixed path (such as "acme.io/foo")')];
  const errs: FieldError[] = isDNS1123Subdomain(host).map((m) => invalid(p, host, m));
  if (!httpPathRe.test(rest)) errs.push(invalid(p, rest, regexError('Invalid path', httpPathFmt)));
  return errs;
}

// ---------------------------------------------------------------------------------------------
// Labels, annotations, selectors

const isStringMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Upstream ValidateLabelName: every message is reported on `p` with the key as value. */
export function validateLabelName(key: string, p: FieldPath): FieldError[] {
  return isQualifiedName(key).map((m) => invalid(p, key, m));
}

/** metav1 validation.ValidateLabels: errors are reported on the map's path, not per key. */
export function validateLabels(labels: unknown, p: FieldPath): FieldError[] {
  if (labels === undefined || labels === null) return [];
  if (!isStringMap(labels)) return [invalid(p, labels, 'must be a map of string keys to string values')];
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(labels)) {
    errs.push(...validateLabelName(k, p));
    if (typeof v !== 'string') {
      errs.push(invalid(p, v, 'must be a string'));
      continue;
    }
    for (const m of isValidLabelValue(v)) errs.push(invalid(p, v, m));
  }
  return errs;
}

export const TOTAL_ANNOTATION_SIZE_LIMIT_B = 256 * 1024;

/** Keys are qualified names compared case-insensitively; keys + values at most 256 KiB in all. */
export function validateAnnotations(annotations: unknown, p: FieldPath): FieldError[] {
  if (annotations === undefined || annotations === null) return [];
  if (!isStringMap(annotations)) return [invalid(p, annotations, 'must be a map of string keys to string values')];
  const errs: FieldError[] = [];
  let total = 0;
  for (const [k, v] of Object.entries(annotations)) {
    for (const m of isQualifiedName(k.toLowerCase())) errs.push(invalid(p, k, m));
    if (typeof v !== 'string') errs.push(invalid(p, v, 'must be a string'));
    total += blen(k) + (typeof v === 'string' ? blen(v) : 0);
  }
  if (total > TOTAL_ANNOTATION_SIZE_LIMIT_B) errs.push(tooLong(p, TOTAL_ANNOTATION_SIZE_LIMIT_B));
  return errs;
}

export interface LabelSelectorValidationOptions {
  /** Upstream AllowInvalidLabelValueInSelector (kept for old stored objects). */
  allowInvalidLabelValueInSelector?: boolean;
}

/** metav1 validation.ValidateLabelSelector. */
export function validateLabelSelector(
  sel: LabelSelector | undefined | null,
  p: FieldPath,
  opts: LabelSelectorValidationOptions = {},
): FieldError[] {
  if (sel === undefined || sel === null) return [];
  const errs: FieldError[] = validateLabels(sel.matchLabels, p.child('matchLabels'));
  const exprs = sel.matchExpressions ?? [];
  exprs.forEach((expr, i) => {
    const ep = p.child('matchExpressions').index(i);
    const values = expr.values ?? [];
    switch (expr.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0)
          errs.push(required(ep.child('values'), "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0)
          errs.push(
            forbidden(ep.child('values'), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"),
          );
        break;
      default:
        errs.push(invalid(ep.child('operator'), expr.operator, 'not a valid selector operator'));
    }
    errs.push(...validateLabelName(expr.key ?? '', ep.child('key')));
    if (!opts.allowInvalidLabelValueInSelector) {
      values.forEach((v, j) => {
        for (const m of isValidLabelValue(v)) errs.push(invalid(ep.child('values').index(j), v, m));
      });
    }
  });
  return errs;
}

/** Upstream ValidateNonnegativeField; absent values are fine. */
export function validateNonnegative(n: unknown, p: FieldPath): FieldError[] {
  if (n === undefined || n === null) return [];
  if (typeof n !== 'number' || Number.isNaN(n)) return [invalid(p, n, 'must be a number')];
  return n < 0 ? [invalid(p, n, IS_NEGATIVE_ERROR_MSG)] : [];
}

/** Upstream ValidateImmutableField. Values are compared structurally. */
export function validateImmutableField(newVal: unknown, oldVal: unknown, p: FieldPath): FieldError[] {
  return deepEqual(newVal, oldVal) ? [] : [invalid(p, newVal, FIELD_IMMUTABLE_ERROR_MSG)];
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  // Upstream semantic equality treats nil and empty alike for strings/maps/slices.
  if ((a === undefined || a === null) && (b === undefined || b === null)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

// ---------------------------------------------------------------------------------------------
// ObjectMeta

export const FINALIZER_ORPHAN_DEPENDENTS = 'orphan';
export const FINALIZER_DELETE_DEPENDENTS = 'foregroundDeletion';

/** Upstream ValidateFinalizers (generic part: qualified names, orphan xor foregroundDeletion). */
export function validateFinalizers(finalizers: unknown, p: FieldPath): FieldError[] {
  if (finalizers === undefined || finalizers === null) return [];
  if (!Array.isArray(finalizers)) return [invalid(p, finalizers, 'must be a list of strings')];
  const errs: FieldError[] = [];
  let orphan = false;
  let foreground = false;
  for (const f of finalizers) {
    if (typeof f !== 'string') {
      errs.push(invalid(p, f, 'must be a string'));
      continue;
    }
    for (const m of isQualifiedName(f)) errs.push(invalid(p, f, m));
    if (f === FINALIZER_ORPHAN_DEPENDENTS) orphan = true;
    if (f === FINALIZER_DELETE_DEPENDENTS) foreground = true;
  }
  if (orphan && foreground) {
    errs.push(
      invalid(
        p,
        finalizers,
        `finalizer ${FINALIZER_ORPHAN_DEPENDENTS} and ${FINALIZER_DELETE_DEPENDENTS} cannot be both set`,
      ),
    );
  }
  return errs;
}

/** schema.FromAPIVersionAndKind: group and version of an apiVersion, or null when malformed. */
function splitApiVersion(apiVersion: string): { group: string; version: string } | null {
  if (apiVersion === '') return { group: '', version: '' };
  const parts = apiVersion.split('/');
  if (parts.length === 1) return { group: '', version: parts[0] };
  if (parts.length === 2) return { group: parts[0], version: parts[1] };
  return null;
}

/** Upstream ValidateOwnerReferences. */
export function validateOwnerReferences(refs: unknown, p: FieldPath): FieldError[] {
  if (refs === undefined || refs === null) return [];
  if (!Array.isArray(refs)) return [invalid(p, refs, 'must be a list of owner references')];
  const errs: FieldError[] = [];
  let firstController = '';
  for (const raw of refs as Partial<OwnerReference>[]) {
    const ref: Partial<OwnerReference> = raw && typeof raw === 'object' ? raw : {};
    const gv = splitApiVersion(ref.apiVersion ?? '') ?? { group: '', version: '' };
    const kind = ref.kind ?? '';
    if (gv.version.length === 0)
      errs.push(invalid(p.child('apiVersion'), ref.apiVersion ?? '', 'version must not be empty'));
    if (kind.length === 0) errs.push(invalid(p.child('kind'), kind, 'kind must not be empty'));
    if (!ref.name) errs.push(invalid(p.child('name'), ref.name ?? '', 'name must not be empty'));
    if (!ref.uid) errs.push(invalid(p.child('uid'), ref.uid ?? '', 'uid must not be empty'));
    if (gv.group === '' && gv.version === 'v1' && kind === 'Event') {
      errs.push(invalid(p, ref, '/v1, Kind=Event is disallowed from being an owner'));
    }
    if (ref.controller === true) {
      const cur = `${kind}/${ref.name ?? ''}`;
      if (firstController !== '') {
        errs.push(
          invalid(
            p,
            refs,
            `Only one reference can have Controller set to true. Found "true" in references for ${firstController} and ${cur}`,
          ),
        );
      } else {
        firstController = cur;
      }
    }
  }
  return errs;
}

export interface ObjectMetaOptions {
  namespaced: boolean;
  nameRule: NameRule;
}

/** Upstream ValidateObjectMeta (ValidateObjectMetaAccessor). */
export function validateObjectMeta(meta: ObjectMeta | undefined, opts: ObjectMetaOptions, p: FieldPath): FieldError[] {
  const m: ObjectMeta = meta ?? {};
  const errs: FieldError[] = [];
  if (m.generateName) {
    for (const msg of nameIsValid(opts.nameRule, m.generateName, true))
      errs.push(invalid(p.child('generateName'), m.generateName, msg));
  }
  if (!m.name) {
    errs.push(required(p.child('name'), 'name or generateName is required'));
  } else {
    for (const msg of nameIsValid(opts.nameRule, m.name, false)) errs.push(invalid(p.child('name'), m.name, msg));
  }
  if (opts.namespaced) {
    if (!m.namespace) errs.push(required(p.child('namespace')));
    else for (const msg of isDNS1123Label(m.namespace)) errs.push(invalid(p.child('namespace'), m.namespace, msg));
  } else if (m.namespace) {
    errs.push(forbidden(p.child('namespace'), 'not allowed on this type'));
  }
  errs.push(...validateNonnegative(m.generation, p.child('generation')));
  errs.push(...validateLabels(m.labels, p.child('labels')));
  errs.push(...validateAnnotations(m.annotations, p.child('annotations')));
  errs.push(...validateOwnerReferences(m.ownerReferences, p.child('ownerReferences')));
  errs.push(...validateFinalizers(m.finalizers, p.child('finalizers')));
  return errs;
}

const sameInstant = (a: string | undefined, b: string | undefined): boolean => {
  if (!a || !b) return !a && !b;
  if (a === b) return true;
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  // metav1.Time has second precision on the wire.
  return !Number.isNaN(ta) && !Number.isNaN(tb) && Math.floor(ta / 1000) === Math.floor(tb / 1000);
};

/**
 * Upstream ValidateObjectMetaUpdate. Like upstream it requires newMeta.resourceVersion to be set
 * ("must be specified for an update"): the store fills it for unconditional updates before
 * validating.
 */
export function validateObjectMetaUpdate(
  newMeta: ObjectMeta | undefined,
  oldMeta: ObjectMeta | undefined,
  p: FieldPath,
): FieldError[] {
  const n: ObjectMeta = newMeta ?? {};
  const o: ObjectMeta = oldMeta ?? {};
  const errs: FieldError[] = [];
  if (o.deletionTimestamp) {
    const had = new Set(o.finalizers ?? []);
    const extra = [...new Set((n.finalizers ?? []).filter((f) => !had.has(f)))].sort();
    if (extra.length) {
      errs.push(
        forbidden(
          p.child('finalizers'),
          `no new finalizers can be added if the object is being deleted, found new finalizers []string{${extra.map((f) => JSON.stringify(f)).join(', ')}}`,
        ),
      );
    }
  }
  if (!n.resourceVersion)
    errs.push(invalid(p.child('resourceVersion'), n.resourceVersion ?? '', 'must be specified for an update'));
  if ((n.generation ?? 0) < (o.generation ?? 0))
    errs.push(invalid(p.child('generation'), n.generation ?? 0, 'must not be decremented'));
  errs.push(...validateImmutableField(n.name ?? '', o.name ?? '', p.child('name')));
  errs.push(...validateImmutableField(n.namespace ?? '', o.namespace ?? '', p.child('namespace')));
  errs.push(...validateImmutableField(n.uid ?? '', o.uid ?? '', p.child('uid')));
  if (!sameInstant(n.creationTimestamp, o.creationTimestamp)) {
    errs.push(invalid(p.child('creationTimestamp'), n.creationTimestamp ?? null, FIELD_IMMUTABLE_ERROR_MSG));
  }
  if (!sameInstant(n.deletionTimestamp, o.deletionTimestamp)) {
    errs.push(invalid(p.child('deletionTimestamp'), n.deletionTimestamp ?? null, FIELD_IMMUTABLE_ERROR_MSG));
  }
  errs.push(
    ...validateImmutableField(
      n.deletionGracePeriodSeconds,
      o.deletionGracePeriodSeconds,
      p.child('deletionGracePeriodSeconds'),
    ),
  );
  errs.push(...validateLabels(n.labels, p.child('labels')));
  errs.push(...validateAnnotations(n.annotations, p.child('annotations')));
  errs.push(...validateOwnerReferences(n.ownerReferences, p.child('ownerReferences')));
  return errs;
}

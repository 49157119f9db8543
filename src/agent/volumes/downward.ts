// The downward API's value extraction, shared by downwardAPI/projected volumes and container
// environment variables: pod metadata fields (upstream fieldpath.ExtractFieldPathAsString) and
// container resources with a divisor (upstream resource.ExtractContainerResourceValue).
import type { Container, Pod, ResourceFieldSelector } from 'kubernetes-types/core/v1.js';
import { Quantity } from '../../machinery/quantity.js';
import { isQualifiedName } from '../../machinery/validation.js';

/** Go's strconv.Quote: double quotes, backslash escapes, \xNN / \uNNNN for non-printable runes. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case '\\':
        out += '\\\\';
        continue;
      case '\x07':
        out += '\\a';
        continue;
      case '\b':
        out += '\\b';
        continue;
      case '\f':
        out += '\\f';
        continue;
      case '\n':
        out += '\\n';
        continue;
      case '\r':
        out += '\\r';
        continue;
      case '\t':
        out += '\\t';
        continue;
      case '\v':
        out += '\\v';
        continue;
    }
    if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    // C1 controls, the soft hyphen and unpaired surrogates are not printable for Go either; the
    // rest of Unicode is approximated as printable.
    else if ((c >= 0x80 && c < 0xa0) || c === 0xad || (c >= 0xd800 && c <= 0xdfff))
      out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

/** Labels or annotations as a downward API file: `key="value"` lines, keys sorted, no final newline. */
export function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${goQuote(m![k])}`)
    .join('\n');
}

/** `metadata.labels['app']` → ['metadata.labels', 'app']; anything else → undefined. */
function splitSubscript(fieldPath: string): [string, string] | undefined {
  if (!fieldPath.endsWith("']")) return undefined;
  const s = fieldPath.slice(0, -2);
  const i = s.indexOf("['");
  if (i <= 0) return undefined;
  return [s.slice(0, i), s.slice(i + 2)];
}

/** The metadata fields every downward API consumer understands. */
export function extractFieldPath(pod: Pod, fieldPath: string): string {
  const meta = pod.metadata ?? {};
  const sub = splitSubscript(fieldPath);
  if (sub) {
    const [path, key] = sub;
    if (path === 'metadata.annotations' || path === 'metadata.labels') {
      const errs = isQualifiedName(path === 'metadata.annotations' ? key.toLowerCase() : key);
      if (errs.length) throw new Error(`invalid key subscript in ${fieldPath}: ${errs.join(';')}`);
      return (path === 'metadata.annotations' ? meta.annotations : meta.labels)?.[key] ?? '';
    }
    throw new Error(`fieldPath ${JSON.stringify(fieldPath)} does not support subscript`);
  }
  switch (fieldPath) {
    case 'metadata.annotations':
      return formatMap(meta.annotations);
    case 'metadata.labels':
      return formatMap(meta.labels);
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
  }
  throw new Error(`unsupported fieldPath: ${fieldPath}`);
}

/** Node allocatable, used in place of limits a container does not set (as the kubelet does). */
export type Allocatable = Record<string, string>;

function findContainer(pod: Pod, name: string): Container {
  const c =
    pod.spec?.containers?.find((x) => x.name === name) ?? pod.spec?.initContainers?.find((x) => x.name === name);
  if (!c) throw new Error(`container ${name} not found`);
  return c;
}

/** ceil(a / b) for positive b, in integers so huge byte counts stay exact. */
function ceilDiv(a: bigint, b: bigint): bigint {
  if (b <= 0n) throw new Error('divisor must be positive');
  const q = a / b;
  return a % b !== 0n && a > 0n ? q + 1n : q;
}

/**
 * The value of `limits.cpu`, `requests.memory`, ... for a container, divided by the divisor and
 * rounded up. CPU is compared in millicores, everything else in base units, as upstream.
 * `containerName` empty means `self`; missing limits fall back to node allocatable.
 */
export function containerResourceValue(
  sel: ResourceFieldSelector,
  pod: Pod,
  self: Container | undefined,
  allocatable?: Allocatable,
): string {
  const container = sel.containerName ? findContainer(pod, sel.containerName) : self;
  if (!container) throw new Error('resourceFieldRef requires a containerName in volumes');
  const divisorQ =
    sel.divisor === undefined || sel.divisor === null ? Quantity.parse('1') : Quantity.parse(String(sel.divisor));
  const divisor = divisorQ.isZero() ? Quantity.parse('1') : divisorQ;
  const dot = sel.resource.indexOf('.');
  const kind = sel.resource.slice(0, dot);
  const name = sel.resource.slice(dot + 1);
  const supported =
    name === 'cpu' || name === 'memory' || name === 'ephemeral-storage' || name.startsWith('hugepages-');
  if (dot < 0 || (kind !== 'limits' && kind !== 'requests') || !supported) {
    throw new Error(`unsupported container resource : ${sel.resource}`);
  }
  const set = kind === 'limits' ? container.resources?.limits : container.resources?.requests;
  let raw = set?.[name];
  if (raw === undefined && kind === 'limits') raw = allocatable?.[name];
  const q = raw === undefined ? Quantity.zero() : Quantity.parse(String(raw));
  if (name === 'cpu') return String(ceilDiv(q.scaledValueBig(-3), divisor.scaledValueBig(-3)));
  return String(ceilDiv(q.scaledValueBig(0), divisor.scaledValueBig(0)));
}

// The 400s of a create or update body that can't become the resource's type, worded as upstream's
// handlers word them (transformDecodeError in k8s.io/apiserver's endpoints/handlers/rest.go):
// clients and scripts match on "cannot be handled as a Namespace" or "must be of type".
import { builtinResources } from '../api/builtin.js';
import * as errors from '../machinery/errors.js';

/** The scheme built-in types are registered in, as kube-apiserver names it in its errors. */
const LEGACY_SCHEME = 'pkg/api/legacyscheme/scheme.go:30';

let builtinKinds: Set<string> | undefined;

/** "apiVersion/kind" of every built-in type in every served version. */
function builtins(): Set<string> {
  if (!builtinKinds) {
    builtinKinds = new Set();
    for (const def of builtinResources()) {
      for (const v of def.versions) builtinKinds.add(`${def.group ? `${def.group}/` : ''}${v.name}/${def.kind}`);
    }
  }
  return builtinKinds;
}

export function isBuiltinKind(group: string, kind: string, version: string): boolean {
  return builtins().has(`${group ? `${group}/` : ''}${version}/${kind}`);
}

/**
 * The Go package of a group's internal types (k8s.io/kubernetes/pkg/apis/<name>), which Go
 * prints in conversion errors: "core" for the legacy group, else the group's first label
 * (events.k8s.io's internal type is core's Event).
 */
function internalPackage(group: string): string {
  if (group === '' || group === 'events.k8s.io') return 'core';
  return group.split('.')[0];
}

const versionOf = (apiVersion: string) => apiVersion.split('/').at(-1)!;

/**
 * A body naming another type than the resource's (apiVersion and kind default to the
 * resource's): upstream decodes it as the type it names when that is registered, and fails
 * converting it into the resource's internal type unless both share it (another version of the
 * same kind, whose API version the handler then refuses). Undefined when decoding would succeed.
 */
export function decodeMismatch(
  dataApiVersion: unknown,
  dataKind: unknown,
  apiVersion: string,
  group: string,
  kind: string,
): errors.ApiError | undefined {
  const av = typeof dataApiVersion === 'string' && dataApiVersion ? dataApiVersion : apiVersion;
  const k = typeof dataKind === 'string' && dataKind ? dataKind : kind;
  if (av === apiVersion && k === kind) return undefined;
  const version = versionOf(av);
  const slash = av.lastIndexOf('/');
  const dataGroup = slash < 0 ? '' : av.slice(0, slash);
  const registered = isBuiltinKind(dataGroup, k, version);
  if (registered && k === kind && internalPackage(dataGroup) === internalPackage(group)) return undefined;
  const cause = registered
    ? `converting (${version}.${k}) to (${internalPackage(group)}.${kind}): unknown conversion`
    : `no kind ${JSON.stringify(k)} is registered for version ${JSON.stringify(av)} in scheme ${JSON.stringify(LEGACY_SCHEME)}`;
  return errors.badRequest(`${k} in version ${JSON.stringify(version)} cannot be handled as a ${kind}: ${cause}`);
}

/** Upstream's summary of a body it couldn't read: JSON-looking text as is, anything else in hex, 30 bytes at most. */
export function summarizeBody(body: Buffer): string {
  if (body.length === 0) return '<empty>';
  const head = body.subarray(0, 30);
  const text = body[0] === 0x7b /* { */ ? head.toString('utf8') : head.toString('hex');
  return body.length > 30 ? `${text} ...` : text;
}

/** A body that isn't an object of any kind (not JSON when declared JSON, broken YAML). */
export function unrecognizedBody(kind: string, cause: string, body: Buffer): errors.ApiError {
  return errors.badRequest(
    `the object provided is unrecognized (must be of type ${kind}): ${cause} (${summarizeBody(body)})`,
  );
}

/** Go's encoding/json wording for the commonest syntax error: text that doesn't start a value. */
export function goJSONSyntaxError(text: string, jsError: Error): string {
  const first = text.trimStart()[0];
  if (first === undefined) return 'unexpected end of JSON input';
  if (!'{["-0123456789tfn'.includes(first)) return `invalid character '${first}' looking for beginning of value`;
  if (/end of JSON input|Unterminated|Unexpected end/i.test(jsError.message)) return 'unexpected end of JSON input';
  return jsError.message;
}

// Request options as upstream decodes and validates them: query parameters through the
// meta/internalversion parameter codec (strconv errors are a 400), the option structs through
// k8s.io/apimachinery's meta/v1 validation (a 422 naming e.g. ListOptions.meta.k8s.io), and a
// DeleteOptions body through the JSON decoder (type errors are a 400 with Go's message).
import * as errors from '../machinery/errors.js';
import { type FieldError, forbidden, invalid, notSupported, path, tooLong } from '../machinery/fielderrors.js';
import { isPlainObject } from '../machinery/objects.js';

/** Go's strconv.Quote, as strconv errors print the text they could not parse. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 0xc) out += '\\f';
    else if (c === 0xb) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (/[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(ch)) out += ch;
    else if (c < 0x10000) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += `\\U${c.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** strconv.ParseInt(s, 10, 64): the value, or a 400 with Go's error text. */
export function parseInt64Param(s: string): number {
  if (!/^[+-]?[0-9]+$/.test(s)) throw errors.badRequest(`strconv.ParseInt: parsing ${goQuote(s)}: invalid syntax`);
  const n = BigInt(s);
  if (n < INT64_MIN || n > INT64_MAX)
    throw errors.badRequest(`strconv.ParseInt: parsing ${goQuote(s)}: value out of range`);
  return Number(n);
}

/** A query parameter present (even empty) is converted: Go takes its first value. */
function int64Query(query: URLSearchParams, name: string): number | undefined {
  return query.has(name) ? parseInt64Param(query.get(name)!) : undefined;
}

/** runtime.Convert_Slice_string_To_bool: anything but "0" and "false" (any case) is true. */
function boolQuery(query: URLSearchParams, name: string): boolean | undefined {
  if (!query.has(name)) return undefined;
  const v = query.get(name)!;
  return !(v === '0' || v.toLowerCase() === 'false');
}

/** A 422 about an options struct: upstream's NewInvalid with group meta.k8s.io and no name. */
export function invalidOptions(kind: string, errs: FieldError[]): errors.ApiError {
  const e = errors.invalid('meta.k8s.io', kind, '', errs);
  delete e.details!.name;
  return e;
}

// ---- list and watch --------------------------------------------------------------------------

export interface ListOptions {
  labelSelector: string;
  fieldSelector: string;
  watch: boolean;
  allowWatchBookmarks: boolean;
  resourceVersion: string;
  resourceVersionMatch: string;
  timeoutSeconds?: number;
  limit: number;
  continue: string;
  sendInitialEvents?: boolean;
}

/**
 * metainternalversion.ListOptions from the query, validated as ValidateListOptions does (with
 * the WatchList feature on: this server serves sendInitialEvents). Selectors are parsed later.
 */
export function listOptions(query: URLSearchParams, watch: boolean): ListOptions {
  return validateListOptions(listOptionsFromQuery(query, watch));
}

/** ListOptions from the query, not yet validated (the list and watch handlers validate them). */
export function listOptionsFromQuery(query: URLSearchParams, watch: boolean): ListOptions {
  return {
    labelSelector: query.get('labelSelector') ?? '',
    fieldSelector: query.get('fieldSelector') ?? '',
    watch,
    allowWatchBookmarks: boolQuery(query, 'allowWatchBookmarks') ?? false,
    resourceVersion: query.get('resourceVersion') ?? '',
    resourceVersionMatch: query.get('resourceVersionMatch') ?? '',
    timeoutSeconds: int64Query(query, 'timeoutSeconds'),
    limit: int64Query(query, 'limit') ?? 0,
    continue: query.get('continue') ?? '',
    sendInitialEvents: boolQuery(query, 'sendInitialEvents'),
  };
}

/** ValidateListOptions (and the resourceVersion's syntax), for options from any transport. */
export function validateListOptions(opts: ListOptions): ListOptions {
  const errs = opts.watch ? watchOptionErrors(opts) : listOptionErrors(opts);
  if (errs.length) throw invalidOptions('ListOptions', errs);
  checkResourceVersion(opts.resourceVersion);
  return opts;
}

const MAX_UINT64 = 2n ** 64n - 1n;

/** A resourceVersion to read at is a uint64 (storage's ParseResourceVersion); the client's error if not. */
function checkResourceVersion(rv: string): void {
  if (!rv) return;
  let problem: string | undefined;
  if (!/^\d+$/.test(rv)) problem = 'invalid syntax';
  else if (BigInt(rv) > MAX_UINT64) problem = 'value out of range';
  if (problem) {
    throw errors.badRequest(
      `resourceVersion: Invalid value: ${JSON.stringify(rv)}: strconv.ParseUint: parsing ${JSON.stringify(rv)}: ${problem}`,
    );
  }
}

const RVM = path('resourceVersionMatch');

function listOptionErrors(o: ListOptions): FieldError[] {
  const errs: FieldError[] = [];
  const match = o.resourceVersionMatch;
  if (match) {
    if (!o.resourceVersion)
      errs.push(forbidden(RVM, 'resourceVersionMatch is forbidden unless resourceVersion is provided'));
    if (o.continue) errs.push(forbidden(RVM, 'resourceVersionMatch is forbidden when continue is provided'));
    if (match !== 'Exact' && match !== 'NotOlderThan')
      errs.push(notSupported(RVM, match, ['Exact', 'NotOlderThan', '']));
    if (match === 'Exact' && o.resourceVersion === '0')
      errs.push(forbidden(RVM, 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'));
  }
  if (o.sendInitialEvents !== undefined)
    errs.push(forbidden(path('sendInitialEvents'), 'sendInitialEvents is forbidden for list'));
  return errs;
}

function watchOptionErrors(o: ListOptions): FieldError[] {
  const errs: FieldError[] = [];
  const match = o.resourceVersionMatch;
  if (o.sendInitialEvents !== undefined && match !== 'NotOlderThan') {
    errs.push(forbidden(RVM, 'sendInitialEvents requires setting resourceVersionMatch to NotOlderThan'));
  }
  if (match) {
    if (o.sendInitialEvents === undefined)
      errs.push(forbidden(RVM, 'resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided'));
    if (match !== 'NotOlderThan') errs.push(notSupported(RVM, match, ['NotOlderThan']));
    if (o.continue) errs.push(forbidden(RVM, 'resourceVersionMatch is forbidden when continue is provided'));
  }
  return errs;
}

// ---- create, update, patch ------------------------------------------------------------------

export type WriteOptionsKind = 'CreateOptions' | 'UpdateOptions' | 'PatchOptions';

/** Go's %#v of a []string, as field errors print a bad dryRun. */
const goStringSlice = (vs: string[]): string => `[]string{${vs.map((v) => JSON.stringify(v)).join(', ')}}`;

function dryRunErrors(dryRun: string[]): FieldError[] {
  if (dryRun.every((d) => d === 'All')) return [];
  return [
    {
      type: 'FieldValueNotSupported',
      field: 'dryRun',
      detail: `Unsupported value: ${goStringSlice(dryRun)}: supported values: "All"`,
    },
  ];
}

/** ValidateFieldManager: at most 128 bytes, printable characters only. */
function fieldManagerErrors(manager: string): FieldError[] {
  const errs: FieldError[] = [];
  const p = path('fieldManager');
  if (Buffer.byteLength(manager) > 128) errs.push(tooLong(p, 128));
  let at = 0;
  for (const ch of manager) {
    if (!/^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(ch)) {
      const cp = ch.codePointAt(0)!;
      errs.push(
        invalid(
          p,
          manager,
          `invalid character U+${cp.toString(16).toUpperCase().padStart(4, '0')} (at position ${at})`,
        ),
      );
    }
    at += Buffer.byteLength(ch);
  }
  return errs;
}

export interface WriteOptions {
  dryRun: boolean;
  /** As sent: empty when the client named none. */
  fieldManager: string;
  fieldValidation: '' | 'Ignore' | 'Warn' | 'Strict';
  force?: boolean;
}

/**
 * Create/Update/PatchOptions from the query, validated as upstream's Validate*Options; for
 * patches `apply` says whether the patch type is server-side apply (fieldManager required,
 * force allowed only then).
 */
export function writeOptions(query: URLSearchParams, kind: WriteOptionsKind, apply = false): WriteOptions {
  return validateWriteOptions(
    {
      dryRun: query.getAll('dryRun'),
      fieldManager: query.get('fieldManager') ?? '',
      fieldValidation: query.get('fieldValidation') ?? '',
      force: kind === 'PatchOptions' ? boolQuery(query, 'force') : undefined,
    },
    kind,
    apply,
  );
}

/** Write options as a client sent them, before validation. */
export interface WriteOptionsValue {
  dryRun: string[];
  fieldManager: string;
  fieldValidation: string;
  force?: boolean;
}

/** Upstream's Validate{Create,Update,Patch}Options, for options from any transport. */
export function validateWriteOptions(v: WriteOptionsValue, kind: WriteOptionsKind, apply = false): WriteOptions {
  const { dryRun, fieldManager, fieldValidation, force } = v;
  const errs: FieldError[] = [];
  if (kind === 'PatchOptions') {
    if (apply && !fieldManager)
      errs.push({
        type: 'FieldValueRequired',
        field: 'fieldManager',
        detail: 'Required value: is required for apply patch',
      });
    if (!apply && force !== undefined) errs.push(forbidden(path('force'), 'may not be specified for non-apply patch'));
  }
  errs.push(...fieldManagerErrors(fieldManager), ...dryRunErrors(dryRun));
  if (!['', 'Ignore', 'Strict', 'Warn'].includes(fieldValidation))
    errs.push(notSupported(path('fieldValidation'), fieldValidation, ['', 'Ignore', 'Strict', 'Warn']));
  if (errs.length) throw invalidOptions(kind, errs);
  return {
    dryRun: dryRun.length > 0,
    fieldManager,
    fieldValidation: fieldValidation as WriteOptions['fieldValidation'],
    force,
  };
}

// ---- delete ----------------------------------------------------------------------------------

export interface DeleteOptionsValue {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  orphanDependents?: boolean;
  propagationPolicy?: string;
  dryRun?: string[];
}

/** Where DeleteOptions' fields are decoded from a JSON body: Go type names for the messages. */
const DELETE_OPTION_FIELDS: Record<string, { goType: string; fits: (v: unknown) => boolean }> = {
  gracePeriodSeconds: {
    goType: 'int64',
    fits: (v) => typeof v === 'number' && Number.isInteger(v) && Math.abs(v) < 2 ** 63,
  },
  preconditions: { goType: 'v1.Preconditions', fits: isPlainObject },
  orphanDependents: { goType: 'bool', fits: (v) => typeof v === 'boolean' },
  propagationPolicy: { goType: 'v1.DeletionPropagation', fits: (v) => typeof v === 'string' },
  dryRun: { goType: '[]string', fits: Array.isArray },
  ignoreStoreReadErrorWithClusterBreakingPotential: { goType: 'bool', fits: (v) => typeof v === 'boolean' },
};
const PRECONDITION_FIELDS: Record<string, string> = { uid: 'types.UID', resourceVersion: 'string' };

/**
 * JSON values as encoding/json's UnmarshalTypeError names them: the number itself only when it
 * went into an integer and didn't fit.
 */
function jsonValueText(v: unknown, goType: string): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return goType === 'int64' ? `number ${v}` : 'number';
  if (typeof v === 'object') return 'object';
  return typeof v;
}

const typeError = (v: unknown, struct: string, field: string, goType: string) =>
  errors.badRequest(
    `json: cannot unmarshal ${jsonValueText(v, goType)} into Go struct field ${struct}.${field} of type ${goType}`,
  );

/** Kinds the meta scheme decodes as DeleteOptions: any apiVersion (it is an unversioned type). */
const META_SCHEME = 'k8s.io/apimachinery/pkg/apis/meta/internalversion/scheme/register.go:27';

/** A decoded DeleteOptions body, checked as the meta scheme's JSON decoder does. */
export function deleteOptionsFromBody(body: unknown): DeleteOptionsValue {
  if (!isPlainObject(body)) throw errors.badRequest('DeleteOptions must be an object');
  const kind = typeof body.kind === 'string' && body.kind ? body.kind : 'DeleteOptions';
  if (kind !== 'DeleteOptions') {
    const apiVersion = typeof body.apiVersion === 'string' && body.apiVersion ? body.apiVersion : 'meta.k8s.io/v1';
    throw errors.badRequest(
      `no kind ${JSON.stringify(kind)} is registered for version ${JSON.stringify(apiVersion)} in scheme ${JSON.stringify(META_SCHEME)}`,
    );
  }
  const out: DeleteOptionsValue = {};
  for (const [field, spec] of Object.entries(DELETE_OPTION_FIELDS)) {
    const v = body[field];
    if (v === undefined || v === null) continue;
    if (!spec.fits(v)) throw typeError(v, 'DeleteOptions', field, spec.goType);
    if (field === 'dryRun') {
      const bad = (v as unknown[]).find((d) => typeof d !== 'string');
      if (bad !== undefined && bad !== null) throw typeError(bad, 'DeleteOptions', 'dryRun', 'string');
      out.dryRun = (v as unknown[]).map((d) => (typeof d === 'string' ? d : ''));
    } else if (field === 'preconditions') {
      const pre: { uid?: string; resourceVersion?: string } = {};
      for (const [pf, goType] of Object.entries(PRECONDITION_FIELDS)) {
        const pv = (v as Record<string, unknown>)[pf];
        if (pv === undefined || pv === null) continue;
        if (typeof pv !== 'string') throw typeError(pv, 'Preconditions', `preconditions.${pf}`, goType);
        pre[pf as 'uid' | 'resourceVersion'] = pv;
      }
      out.preconditions = pre;
    } else if (field !== 'ignoreStoreReadErrorWithClusterBreakingPotential') {
      (out as Record<string, unknown>)[field] = v;
    }
  }
  return out;
}

/** DeleteOptions from the query (only used when the request has no body, as upstream). */
export function deleteOptionsFromQuery(query: URLSearchParams): DeleteOptionsValue {
  const out: DeleteOptionsValue = {};
  const grace = int64Query(query, 'gracePeriodSeconds');
  if (grace !== undefined) out.gracePeriodSeconds = grace;
  const orphan = boolQuery(query, 'orphanDependents');
  if (orphan !== undefined) out.orphanDependents = orphan;
  if (query.has('propagationPolicy')) out.propagationPolicy = query.get('propagationPolicy')!;
  if (query.has('dryRun')) out.dryRun = query.getAll('dryRun');
  return out;
}

/** ValidateDeleteOptions: a 422 naming DeleteOptions.meta.k8s.io. */
export function validateDeleteOptions(o: DeleteOptionsValue): void {
  const errs: FieldError[] = [];
  const p = path('propagationPolicy');
  if (o.orphanDependents !== undefined && o.propagationPolicy !== undefined) {
    errs.push(invalid(p, o.propagationPolicy, 'orphanDependents and deletionPropagation cannot be both set'));
  }
  if (o.propagationPolicy !== undefined && !['Foreground', 'Background', 'Orphan'].includes(o.propagationPolicy)) {
    errs.push(notSupported(p, o.propagationPolicy, ['Foreground', 'Background', 'Orphan', 'nil']));
  }
  errs.push(...dryRunErrors(o.dryRun ?? []));
  if (errs.length) throw invalidOptions('DeleteOptions', errs);
}

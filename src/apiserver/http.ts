// HTTP plumbing: bodies in (size limit, JSON/YAML), responses out (JSON, YAML, Status errors),
// and content negotiation of the Accept header (plain objects, Tables, PartialObjectMetadata,
// aggregated discovery).
import type { IncomingMessage, ServerResponse } from 'node:http';
import YAML from 'yaml';
import * as errors from '../machinery/errors.js';
import { goJSONSyntaxError } from './decodeerrors.js';
import { parseYAMLOffThread } from './yaml/decode.js';
import { jsonNestedDeeperThan, skipDoubleQuoted, yamlNestedDeeperThan } from '../machinery/nesting.js';
import { parseJSONInSlices } from '../machinery/slicedjson.js';
import { PROTOBUF, decodeProtobufBody, encodeProtobuf, isProtobuf } from './protobuf.js';

export const MAX_BODY_BYTES = 3 * 1024 * 1024;

/** Who else wants a request's body once read (the audit log, at its Request level). */
const bodyObservers = new WeakMap<IncomingMessage, (body: Buffer) => void>();

export function observeBody(req: IncomingMessage, observer: (body: Buffer) => void): void {
  bodyObservers.set(req, observer);
}

export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      req.resume();
      reject(errors.entityTooLarge(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(errors.entityTooLarge(limit));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (failed) return;
      const body = Buffer.concat(chunks);
      bodyObservers.get(req)?.(body);
      resolve(body);
    });
    req.on('error', (e) => !failed && reject(e));
    // A body cut off by its client (an HTTP/2 stream reset emits no error): the request ends here.
    req.on(
      'close',
      () => !failed && !req.complete && reject(errors.badRequest('the request body was not received completely')),
    );
  });
}

/**
 * A boolean query parameter as upstream decodes it (runtime.Convert_Slice_string_To_bool): absent
 * is undefined; "0" and "false" (any case) are false; anything else, even "True" (Python clients)
 * or an empty value, is true.
 */
export function queryBool(query: URLSearchParams, name: string): boolean | undefined {
  const v = query.get(name);
  if (v === null) return undefined;
  return !(v === '0' || v.toLowerCase() === 'false');
}

export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

/** Nesting deeper than this is refused before any recursive work starts (Go's decoders cap it at 10,000). */
export const MAX_NESTING_DEPTH = 10_000;

/** Media types a request body may be decoded from (patches name theirs in rest.ts). */
const BODY_MEDIA_TYPES = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'];

function tooDeep(limit: number): errors.ApiError {
  return errors.badRequest(`the request body is nested too deeply: exceeded max depth of ${limit}`);
}

/** JSON text, which YAML bodies usually are (kubectl's apply patches): the fast, iterative parser. */
export function looksLikeJSON(text: string): boolean {
  const c = text.trimStart().charCodeAt(0);
  return c === 0x7b /* { */ || c === 0x5b; /* [ */
}

/**
 * Decode a JSON, YAML or protobuf request body into a value. Errors name what was wrong; a body
 * in another media type is a 415 (so a browser's cross-site text/plain or form post, which needs
 * no preflight, can't act with the user's client certificate). A body without a Content-Type is
 * JSON, as upstream takes it: kubectl's scale client sends its Scale that way.
 */
export async function decodeBody(
  body: Buffer | string,
  contentType: string | undefined,
  found?: JSONScan,
): Promise<unknown> {
  // Only an absent (or empty) header means JSON; one that doesn't parse (";;;") is refused.
  const mt = contentType === undefined || contentType.trim() === '' ? 'application/json' : mediaTypeOf(contentType);
  if (isProtobuf(mt)) {
    if (typeof body !== 'string') return decodeProtobufBody(body);
    throw errors.unsupportedMediaType(mt, ['application/json', 'application/yaml']);
  }
  if (mt !== 'application/json' && mt !== 'application/yaml') {
    throw errors.unsupportedMediaType(mt, BODY_MEDIA_TYPES);
  }
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (!text.trim()) throw errors.badRequest('the request body is empty');
  if (mt === 'application/json') return decodeJSON(text, false, found);
  // YAML bodies are mostly JSON (kubectl's apply patches): those take the fast, iterative parser.
  if (looksLikeJSON(text)) {
    const scan: JSONScan = found ?? {};
    const value = await decodeJSON(text, true, scan);
    if (value !== NOT_JSON) {
      // As YAML, a repeated key is an error (JSON.parse would keep the last one).
      const dups = (scan.duplicates ??= duplicateJSONKeys(text));
      if (dups.length)
        throw errors.badRequest(`error converting YAML to JSON: Map keys must be unique: ${JSON.stringify(dups[0])}`);
      return value;
    }
  }
  if (yamlNestedDeeperThan(text, MAX_NESTING_DEPTH)) throw tooDeep(MAX_NESTING_DEPTH);
  return parseYAMLOffThread(text).catch((e) => {
    const message = `error converting YAML to JSON: ${(e as Error).message}`;
    throw new BodySyntaxError(message, message);
  });
}

const NOT_JSON = Symbol('not JSON');

/**
 * A body that doesn't parse in its media type. `upstreamCause` is the decoder's error as
 * upstream words it: object bodies of built-in types report it as transformDecodeError does.
 */
export class BodySyntaxError extends errors.ApiError {
  constructor(
    message: string,
    readonly upstreamCause: string,
  ) {
    super(400, 'BadRequest', message);
  }
}

/** Bodies at least this long are parsed in slices of the event loop (machinery/slicedjson.ts). */
const SLICED_PARSE_CHARS = 512 * 1024;

/** What decoding a JSON text found on the way: the keys it repeats (see scanJSONText). */
export interface JSONScan {
  duplicates?: string[];
}

async function decodeJSON(text: string, orNotJSON = false, found?: JSONScan): Promise<unknown> {
  if (text.length >= SLICED_PARSE_CHARS || !found) {
    // A big text's repeated keys are looked for in a turn of its own (rest.ts readObject).
    if (jsonNestedDeeperThan(text, MAX_NESTING_DEPTH)) throw tooDeep(MAX_NESTING_DEPTH);
  } else {
    // One pass over the text for both its depth and its repeated keys (field validation reports them).
    const duplicates = scanJSONText(text, MAX_NESTING_DEPTH);
    if (!duplicates) throw tooDeep(MAX_NESTING_DEPTH);
    found.duplicates = duplicates;
  }
  try {
    return text.length >= SLICED_PARSE_CHARS ? await parseJSONInSlices(text) : JSON.parse(text);
  } catch (e) {
    if (orNotJSON) return NOT_JSON;
    const cause = `couldn't get version/kind; json parse error: ${goJSONSyntaxError(text, e as Error)}`;
    throw new BodySyntaxError(`couldn't decode request body as JSON: ${(e as Error).message}`, cause);
  }
}

/** JSON object keys that appear twice in the same object (strict field validation reports them). */
export function duplicateJSONKeys(text: string): string[] {
  return scanJSONText(text, Infinity)!;
}

/**
 * One linear pass over a JSON text, without building values: the object keys it repeats (in
 * the order their repeats appear; a key three times is reported twice), or undefined when
 * arrays and objects nest deeper than `limit` (as jsonNestedDeeperThan counts). A text that is
 * not JSON gives some answer; its parse fails anyway.
 */
export function scanJSONText(text: string, limit: number): string[] | undefined {
  const dups: string[] = [];
  // Per open object, the keys seen: none yet, the first (most objects are small), or a set.
  const keys: (Set<string> | string | undefined)[] = [];
  const isObject: boolean[] = [];
  let depth = 0;
  let expectKey = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = skipDoubleQuoted(text, i + 1);
      if (expectKey && depth > 0 && isObject[depth - 1]) {
        const k = text.slice(i + 1, end - 1);
        const seen = keys[depth - 1];
        if (seen === undefined) keys[depth - 1] = k;
        else if (typeof seen === 'string') {
          if (seen === k) dups.push(k);
          else keys[depth - 1] = new Set([seen, k]);
        } else if (seen.has(k)) dups.push(k);
        else seen.add(k);
        expectKey = false;
      }
      i = end - 1;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > limit) return undefined;
      keys[depth - 1] = undefined;
      isObject[depth - 1] = c === 0x7b;
      if (c === 0x7b) expectKey = true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      if (depth > 0) keys[--depth] = undefined;
    } else if (c === 0x2c /* , */) {
      expectKey = depth > 0 && isObject[depth - 1];
    }
  }
  return dups;
}

export type OutputKind = 'object' | 'table' | 'partial' | 'discovery';

export interface Negotiated {
  kind: OutputKind;
  yaml: boolean;
  /** Kubernetes protobuf (only where the caller offered it). */
  protobuf?: boolean;
  /** For discovery: the apidiscovery version asked for. */
  discoveryVersion?: 'v2' | 'v2beta1';
}

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
  params: Record<string, string>;
}

/** Accept as upstream parses it (goautoneg): q defaults to 1, then sorted as its comparator does. */
function parseAccept(accept: string | undefined): MediaRange[] {
  if (!accept) return [];
  const ranges: MediaRange[] = [];
  for (const part of accept.split(',')) {
    const [range, ...params] = part.split(';');
    const sp = range.split('/');
    const type = sp[0].trim().toLowerCase();
    let subtype: string;
    if (sp.length === 1 && type === '*') subtype = '*';
    else if (sp.length === 2) subtype = sp[1].trim().toLowerCase();
    else continue;
    const r: MediaRange = { type, subtype, q: 1, params: {} };
    for (const kv of params) {
      const eq = kv.indexOf('=');
      if (eq < 0) continue;
      const key = kv.slice(0, eq).trim();
      if (key === 'q') r.q = parseFloat(kv.slice(eq + 1)) || 0;
      else r.params[key] = kv.slice(eq + 1).trim();
    }
    ranges.push(r);
  }
  // goautoneg's less(): higher q first, then a concrete type before */*, then a concrete subtype
  // before type/*. Insertion sort, as Go's sort does for the short lists Accept headers are.
  const less = (a: MediaRange, b: MediaRange) =>
    a.q > b.q || (a.type !== '*' && b.type === '*') || (a.subtype !== '*' && b.subtype === '*');
  for (let i = 1; i < ranges.length; i++) {
    for (let j = i; j > 0 && less(ranges[j], ranges[j - 1]); j--)
      [ranges[j - 1], ranges[j]] = [ranges[j], ranges[j - 1]];
  }
  return ranges;
}

export interface NegotiateOptions {
  discovery?: boolean;
  /**
   * What a resource endpoint offers in protobuf: 'objects' (built-in types: everything but
   * Tables) or 'metadata' (custom resources: only PartialObjectMetadata, as upstream).
   */
  protobuf?: 'objects' | 'metadata';
}

const SERIALIZERS = [
  { type: 'application', subtype: 'json' },
  { type: 'application', subtype: 'yaml' },
  { type: 'application', subtype: 'vnd.kubernetes.protobuf' },
];

/**
 * Pick what to send for this Accept header, as upstream's NegotiateMediaTypeOptions: ranges in
 * preference order, each tried against JSON, YAML, protobuf in that order; a range whose
 * parameters ask for something this endpoint cannot produce is passed over. 406 when none fits.
 */
export function negotiate(accept: string | undefined, opts: NegotiateOptions = {}): Negotiated {
  // Clients send the same few Accept headers on every request: their answers are kept (frozen,
  // shared), for headers of a sane length and up to a bound on how many different ones.
  if (accept !== undefined && accept.length > NEGOTIATED_MAX_ACCEPT) return negotiateUncached(accept, opts);
  const key = `${opts.protobuf ?? ''}${opts.discovery ? '+d' : ''}\u0000${accept ?? ''}`;
  let neg = negotiated.get(key);
  if (!neg) {
    neg = Object.freeze(negotiateUncached(accept, opts));
    if (negotiated.size >= NEGOTIATED_MAX) negotiated.clear();
    negotiated.set(key, neg);
  }
  return neg;
}

const negotiated = new Map<string, Negotiated>();
const NEGOTIATED_MAX = 1024;
const NEGOTIATED_MAX_ACCEPT = 512;

function negotiateUncached(accept: string | undefined, opts: NegotiateOptions): Negotiated {
  const ranges = parseAccept(accept);
  if (!ranges.length) return { kind: 'object', yaml: false };
  for (const r of ranges) {
    for (const s of SERIALIZERS) {
      if (!(
        (r.type === s.type && (r.subtype === s.subtype || r.subtype === '*')) ||
        (r.type === '*' && r.subtype === '*')
      ))
        continue;
      const found = offered(r.params, s.subtype, opts);
      if (found) return found;
    }
  }
  const types = ['application/json', 'application/yaml'];
  if (opts.protobuf === 'objects') types.push('application/vnd.kubernetes.protobuf');
  if (ranges.some((r) => r.type === 'application' && r.subtype === 'vnd.kubernetes.protobuf' && !r.params.as)) {
    throw errors.notAcceptable(`only the following media types are accepted: ${types.join(', ')}`);
  }
  throw errors.notAcceptable(
    `only the following media types are accepted: ${types.join(', ')}, application/json;as=Table;v=v1;g=meta.k8s.io`,
  );
}

/** What a range's parameters ask of one serializer, if this endpoint offers it. */
function offered(params: Record<string, string>, subtype: string, opts: NegotiateOptions): Negotiated | undefined {
  if (params.stream && params.stream !== 'watch') return undefined;
  const yaml = subtype === 'yaml';
  const protobuf = subtype === 'vnd.kubernetes.protobuf';
  const as = params.as;
  if (!as) {
    if (protobuf && opts.protobuf !== 'objects') return undefined;
    return { kind: 'object', yaml, protobuf };
  }
  const metaVersion = params.g === 'meta.k8s.io' && (params.v === 'v1' || params.v === 'v1beta1');
  // Tables are JSON or YAML only (upstream's AllowsMediaTypeTransform).
  if (as === 'Table' && metaVersion && !protobuf) return { kind: 'table', yaml };
  if ((as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') && params.g === 'meta.k8s.io') {
    if (protobuf && !opts.protobuf) return undefined;
    return { kind: 'partial', yaml, protobuf };
  }
  if (
    opts.discovery &&
    !protobuf &&
    as === 'APIGroupDiscoveryList' &&
    params.g === 'apidiscovery.k8s.io' &&
    (params.v === 'v2' || params.v === 'v2beta1')
  ) {
    return { kind: 'discovery', yaml, discoveryVersion: params.v };
  }
  return undefined;
}

export function send(
  res: ServerResponse,
  code: number,
  body: string | Buffer,
  contentType = 'application/json',
  headers: Record<string, string | string[]> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(code, { 'Content-Type': contentType, 'Cache-Control': 'no-cache, private', ...headers });
  res.end(body);
}

/** An object in the negotiated form (protobuf for objects whose type has that form). */
export function sendNegotiated(
  res: ServerResponse,
  code: number,
  obj: unknown,
  neg: Negotiated,
  headers: Record<string, string | string[]> = {},
): void {
  if (neg.protobuf) send(res, code, encodeProtobuf(obj), PROTOBUF, headers);
  else sendObject(res, code, obj, neg.yaml, headers);
}

export function sendObject(
  res: ServerResponse,
  code: number,
  obj: unknown,
  yaml = false,
  headers: Record<string, string | string[]> = {},
): void {
  if (yaml) send(res, code, YAML.stringify(obj), 'application/yaml', headers);
  else send(res, code, typeof obj === 'string' ? obj : JSON.stringify(obj), 'application/json', headers);
}

/**
 * How a reply of one object (a subresource's answer: a Status, a TokenRequest) is to be encoded:
 * JSON, YAML or, for built-in types, protobuf. Negotiated before the handler acts, as upstream's
 * create handlers do, so an unacceptable Accept (406) changes nothing.
 */
export function replyEncoding(req: IncomingMessage): Negotiated {
  return negotiate(req.headers.accept, { protobuf: 'objects' });
}

/** Sends one object in the negotiated encoding (see replyEncoding). */
export function sendReply(
  res: ServerResponse,
  code: number,
  obj: unknown,
  encoding: Negotiated,
  headers: Record<string, string | string[]> = {},
): void {
  if (encoding.protobuf) return send(res, code, encodeProtobuf(obj), PROTOBUF, headers);
  sendObject(res, code, obj, encoding.yaml, headers);
}

export function sendError(res: ServerResponse, err: unknown, headers: Record<string, string | string[]> = {}): void {
  const e = errors.toApiError(err);
  const extra = { ...headers };
  if (e.details?.retryAfterSeconds) extra['Retry-After'] = String(e.details.retryAfterSeconds);
  if (prefersProtobuf(res.req?.headers.accept)) return send(res, e.code, encodeProtobuf(e.toStatus()), PROTOBUF, extra);
  send(res, e.code, e.toStatusJSON(), 'application/json', extra);
}

/** Would this Accept header get a Status in protobuf (as upstream encodes errors for built-ins)? */
function prefersProtobuf(accept: string | undefined): boolean {
  if (!accept || !accept.includes('protobuf')) return false;
  try {
    return negotiate(accept, { protobuf: 'objects' }).protobuf === true;
  } catch {
    return false;
  }
}

/** Past this many characters of warnings in one response, each warning is cut (upstream's recorder). */
const WARNINGS_TOTAL_RUNES = 4 * 1024;
const WARNING_ITEM_RUNES = 256;

/** One warning as an RFC 7234 header value, `299 - "text"`, carried as UTF-8 bytes (as Go sends it). */
function warningHeader(text: string): string {
  // Quoted-string escapes; control characters can't travel in a header and become spaces.
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this replaces
  const quoted = text.replace(/["\\]/g, (c) => `\\${c}`).replace(/[\x00-\x08\x0a-\x1f\x7f]/g, ' ');
  // Node writes header strings as Latin-1: hand it the UTF-8 bytes one per character.
  return `299 - "${Buffer.from(quoted, 'utf8').toString('latin1')}"`;
}

/**
 * Warning headers as upstream's warning recorder writes them: deduplicated, and once their
 * total passes 4096 characters every warning is cut to 256 and the ones past the total dropped.
 */
export function warningHeaders(warnings: string[]): Record<string, string[]> {
  if (!warnings.length) return {};
  const unique = [...new Set(warnings.filter((w) => w.length > 0))];
  const runes = (t: string) => [...t];
  const total = unique.reduce((n, w) => n + runes(w).length, 0);
  if (total <= WARNINGS_TOTAL_RUNES) return { Warning: unique.map(warningHeader) };
  const out: string[] = [];
  let written = 0;
  for (const w of unique) {
    if (written >= WARNINGS_TOTAL_RUNES) break;
    const r = runes(w);
    const cut = r.length > WARNING_ITEM_RUNES ? r.slice(0, WARNING_ITEM_RUNES).join('') : w;
    written += Math.min(r.length, WARNING_ITEM_RUNES);
    out.push(warningHeader(cut));
  }
  return { Warning: out };
}

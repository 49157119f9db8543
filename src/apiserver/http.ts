// HTTP plumbing: bodies in (size limit, JSON/YAML), responses out (JSON, YAML, Status errors),
// and content negotiation of the Accept header (plain objects, Tables, PartialObjectMetadata,
// aggregated discovery).
import type { IncomingMessage, ServerResponse } from 'node:http';
import YAML from 'yaml';
import * as errors from '../machinery/errors.js';

export const MAX_BODY_BYTES = 3 * 1024 * 1024;

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
    req.on('end', () => !failed && resolve(Buffer.concat(chunks)));
    req.on('error', (e) => !failed && reject(e));
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

/** Decode a JSON or YAML request body into a value. Errors name what was wrong. */
export function decodeBody(body: Buffer | string, contentType: string | undefined): unknown {
  const mt = mediaTypeOf(contentType);
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (!text.trim()) throw errors.badRequest('the request body is empty');
  if (mt.includes('yaml')) return decodeYAML(text);
  if (mt === 'application/vnd.kubernetes.protobuf') {
    throw errors.unsupportedMediaType(mt, ['application/json', 'application/yaml']);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw errors.badRequest(`couldn't decode request body as JSON: ${(e as Error).message}`);
  }
}

/**
 * A YAML body. JSON is YAML, and clients (kubectl's server-side apply among them) send JSON as
 * apply-patch+yaml: that is parsed as JSON, hundreds of times faster than the YAML composer.
 * Duplicate keys are an error either way. The YAML library's own duplicate check compares each
 * key with every earlier key of its map (quadratic: minutes for a 100,000-key map), so keys are
 * checked here with one Set per map instead.
 */
function decodeYAML(text: string): unknown {
  const first = text.charCodeAt(text.search(/\S/));
  if (first === 0x7b /* { */ || first === 0x5b /* [ */) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      // Not JSON after all (YAML flow style, comments...): the YAML parser decides.
    }
    if (value !== undefined && duplicateJSONKeys(text).length === 0) return value;
  }
  const doc = YAML.parseDocument(text, { uniqueKeys: false, intAsBigInt: false });
  if (doc.errors.length) throw errors.badRequest(`error converting YAML to JSON: ${doc.errors[0].message}`);
  const dup = firstDuplicateKey(doc.contents);
  if (dup !== undefined) {
    const before = text.slice(0, dup).split('\n');
    throw errors.badRequest(`error converting YAML to JSON: Map keys must be unique at line ${before.length}, column ${before[before.length - 1].length + 1}`);
  }
  return doc.toJS({ maxAliasCount: 100 });
}

/** The offset of the first key that repeats an earlier key of the same map, if any. */
function firstDuplicateKey(root: unknown): number | undefined {
  const pending: unknown[] = [root];
  let found: number | undefined;
  while (pending.length) {
    const node = pending.pop();
    if (YAML.isMap(node)) {
      const seen = new Set<unknown>();
      for (const pair of node.items) {
        const key = pair.key;
        if (YAML.isScalar(key)) {
          if (seen.has(key.value)) {
            const at = key.range?.[0] ?? 0;
            if (found === undefined || at < found) found = at;
          }
          seen.add(key.value);
        }
        pending.push(pair.key, pair.value);
      }
    } else if (YAML.isSeq(node)) {
      for (const item of node.items) pending.push(item);
    }
  }
  return found;
}

/** The index of the quote that ends the JSON string starting at `from` (text.length if none). */
function closingQuote(text: string, from: number): number {
  for (let j = text.indexOf('"', from); j >= 0; j = text.indexOf('"', j + 1)) {
    // Escaped when preceded by an odd number of backslashes.
    let backslashes = 0;
    while (text.charCodeAt(j - 1 - backslashes) === 92) backslashes++;
    if (backslashes % 2 === 0) return j;
  }
  return text.length;
}

/** JSON object keys that appear twice in the same object (strict field validation reports them). */
export function duplicateJSONKeys(text: string): string[] {
  // A light scanner: tracks keys per object nesting level without building values.
  const dups: string[] = [];
  const stack: Set<string>[] = [];
  const kinds: ('o' | 'a')[] = [];
  let i = 0;
  let expectKey = false;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      const j = closingQuote(text, i + 1);
      if (expectKey && kinds[kinds.length - 1] === 'o') {
        const s = text.slice(i + 1, j);
        const keys = stack[stack.length - 1];
        if (keys.has(s)) dups.push(s);
        keys.add(s);
        expectKey = false;
      }
      i = j + 1;
      continue;
    }
    if (c === '{') {
      stack.push(new Set());
      kinds.push('o');
      expectKey = true;
    } else if (c === '[') {
      kinds.push('a');
      stack.push(new Set());
    } else if (c === '}' || c === ']') {
      kinds.pop();
      stack.pop();
    } else if (c === ',') {
      expectKey = kinds[kinds.length - 1] === 'o';
    }
    i++;
  }
  return dups;
}

export type OutputKind = 'object' | 'table' | 'partial' | 'discovery';

export interface Negotiated {
  kind: OutputKind;
  yaml: boolean;
  /** For discovery: the apidiscovery version asked for. */
  discoveryVersion?: 'v2' | 'v2beta1';
}

interface MediaRange {
  type: string;
  params: Record<string, string>;
}

function parseAccept(accept: string | undefined): MediaRange[] {
  if (!accept) return [];
  return accept.split(',').map((part) => {
    const [type, ...params] = part.split(';').map((s) => s.trim());
    const p: Record<string, string> = {};
    for (const kv of params) {
      const eq = kv.indexOf('=');
      if (eq > 0) p[kv.slice(0, eq).trim()] = kv.slice(eq + 1).trim();
    }
    return { type: type.toLowerCase(), params: p };
  });
}

/** Pick what to send for this Accept header. Throws 406 when nothing acceptable is offered. */
export function negotiate(accept: string | undefined, opts: { discovery?: boolean } = {}): Negotiated {
  const ranges = parseAccept(accept);
  if (!ranges.length) return { kind: 'object', yaml: false };
  for (const r of ranges) {
    const json = r.type === 'application/json' || r.type === '*/*' || r.type === 'application/*';
    const yaml = r.type === 'application/yaml';
    if (!json && !yaml) continue;
    const as = r.params.as;
    if (!as) return { kind: 'object', yaml };
    if (as === 'Table' && r.params.g === 'meta.k8s.io' && (r.params.v === 'v1' || r.params.v === 'v1beta1')) return { kind: 'table', yaml };
    if ((as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') && r.params.g === 'meta.k8s.io') return { kind: 'partial', yaml };
    if (opts.discovery && as === 'APIGroupDiscoveryList' && r.params.g === 'apidiscovery.k8s.io' && (r.params.v === 'v2' || r.params.v === 'v2beta1')) {
      return { kind: 'discovery', yaml, discoveryVersion: r.params.v };
    }
  }
  if (ranges.some((r) => r.type === 'application/vnd.kubernetes.protobuf' && !r.params.as)) {
    // Clients that prefer protobuf always list JSON too; reaching here means they did not.
    throw errors.notAcceptable('only the following media types are accepted: application/json, application/yaml');
  }
  throw errors.notAcceptable('only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io');
}

export function send(res: ServerResponse, code: number, body: string | Buffer, contentType = 'application/json', headers: Record<string, string | string[]> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(code, { 'Content-Type': contentType, 'Cache-Control': 'no-cache, private', ...headers });
  res.end(body);
}

export function sendObject(res: ServerResponse, code: number, obj: unknown, yaml = false, headers: Record<string, string | string[]> = {}): void {
  if (yaml) send(res, code, YAML.stringify(obj), 'application/yaml', headers);
  else send(res, code, typeof obj === 'string' ? obj : JSON.stringify(obj), 'application/json', headers);
}

export function sendError(res: ServerResponse, err: unknown, headers: Record<string, string | string[]> = {}): void {
  const e = errors.toApiError(err);
  const extra = { ...headers };
  if (e.details?.retryAfterSeconds) extra['Retry-After'] = String(e.details.retryAfterSeconds);
  send(res, e.code, JSON.stringify(e.toStatus()), 'application/json', extra);
}

/** Warning headers in the RFC 7234 form upstream uses: `299 - "text"`. */
export function warningHeaders(warnings: string[]): Record<string, string[]> {
  if (!warnings.length) return {};
  return { Warning: [...new Set(warnings)].map((w) => `299 - ${JSON.stringify(w)}`) };
}

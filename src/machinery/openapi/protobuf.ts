// OpenAPI v2 in protobuf: the wire form of gnostic's openapi_v2.Document, which is what
// kubectl <= 1.28 (and client-go's discovery OpenAPISchema) asks /openapi/v2 for, with
// Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf. It has no JSON fallback:
// a JSON answer makes those clients fail with "proto: cannot parse invalid wire-format data".
//
// Only encoding is needed. Field numbers follow gnostic's openapiv2/OpenAPIv2.proto. Vendor
// extensions and free-form values (default, example, enum) are openapi_v2.Any with the value as
// YAML text (JSON is YAML), which is how kube-openapi reads them back.

export const OPENAPI_V2_PROTOBUF_CONTENT_TYPE = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

/** Whether an Accept header asks for the protobuf form of /openapi/v2. */
export function acceptsOpenAPIV2Protobuf(accept: string | undefined): boolean {
  return !!accept && accept.includes('application/com.github.proto-openapi.spec.v2');
}

class Writer {
  private chunks: Buffer[] = [];
  private size = 0;

  private push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
  }

  private varint(n: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(n));
    const bytes: number[] = [];
    while (v >= 0x80n) {
      bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    bytes.push(Number(v));
    this.push(Buffer.from(bytes));
  }

  private smallVarint(n: number): void {
    if (n < 0x80) return this.push(Buffer.from([n]));
    this.varint(n);
  }

  private tag(field: number, wire: number): void {
    this.smallVarint((field << 3) | wire);
  }

  string(field: number, s: unknown): void {
    if (typeof s !== 'string' || s === '') return;
    const b = Buffer.from(s, 'utf8');
    this.tag(field, 2);
    this.smallVarint(b.length);
    this.push(b);
  }

  strings(field: number, list: unknown): void {
    if (Array.isArray(list)) for (const s of list) if (typeof s === 'string') this.forceString(field, s);
  }

  /** A string written even when empty (repeated and map entries keep their positions). */
  forceString(field: number, s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.tag(field, 2);
    this.smallVarint(b.length);
    this.push(b);
  }

  bool(field: number, v: unknown): void {
    if (v !== true) return;
    this.tag(field, 0);
    this.smallVarint(1);
  }

  /** A bool written even when false (a oneof member must be present to be chosen). */
  forceBool(field: number, v: boolean): void {
    this.tag(field, 0);
    this.smallVarint(v ? 1 : 0);
  }

  int64(field: number, v: unknown): void {
    if (typeof v !== 'number' || !Number.isFinite(v) || v === 0) return;
    this.tag(field, 0);
    this.varint(Math.trunc(v));
  }

  double(field: number, v: unknown): void {
    if (typeof v !== 'number' || v === 0) return;
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    this.tag(field, 1);
    this.push(b);
  }

  message(field: number, body: Buffer | undefined): void {
    if (!body) return;
    this.tag(field, 2);
    this.smallVarint(body.length);
    this.push(body);
  }

  finish(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}

type Encoder = (w: Writer, v: any) => void;

function msg(v: any, enc: Encoder): Buffer | undefined {
  if (v === undefined || v === null) return undefined;
  const w = new Writer();
  enc(w, v);
  return w.finish();
}

const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);

// Any { google.protobuf.Any value = 1; string yaml = 2; }
function anyValue(v: unknown): Buffer | undefined {
  if (v === undefined) return undefined;
  const w = new Writer();
  w.forceString(2, JSON.stringify(v) + '\n');
  return w.finish();
}

// repeated NamedAny vendor_extension: every x-* key.
function extensions(w: Writer, field: number, obj: Record<string, any>): void {
  for (const [k, v] of Object.entries(obj)) {
    if (!k.startsWith('x-')) continue;
    const e = new Writer();
    e.forceString(1, k);
    e.message(2, anyValue(v));
    w.message(field, e.finish());
  }
}

/** repeated NamedX entries { name = 1; value = 2 } of a JSON map. */
function named(w: Writer, field: number, map: unknown, enc: (v: any) => Buffer | undefined): void {
  if (!isObj(map)) return;
  for (const [k, v] of Object.entries(map)) {
    const e = new Writer();
    e.forceString(1, k);
    e.message(2, enc(v));
    w.message(field, e.finish());
  }
}

const externalDocs = (v: any) =>
  msg(v, (w, d) => {
    w.string(1, d.description);
    w.string(2, d.url);
    extensions(w, 3, d);
  });

function schema(v: any): Buffer | undefined {
  if (!isObj(v)) return undefined;
  return msg(v, (w, s) => {
    w.string(1, s.$ref);
    w.string(2, s.format);
    w.string(3, s.title);
    w.string(4, s.description);
    w.message(5, anyValue(s.default));
    w.double(6, s.multipleOf);
    w.double(7, s.maximum);
    w.bool(8, s.exclusiveMaximum);
    w.double(9, s.minimum);
    w.bool(10, s.exclusiveMinimum);
    w.int64(11, s.maxLength);
    w.int64(12, s.minLength);
    w.string(13, s.pattern);
    w.int64(14, s.maxItems);
    w.int64(15, s.minItems);
    w.bool(16, s.uniqueItems);
    w.int64(17, s.maxProperties);
    w.int64(18, s.minProperties);
    w.strings(19, s.required);
    if (Array.isArray(s.enum)) for (const e of s.enum) w.message(20, anyValue(e));
    if (s.additionalProperties !== undefined) {
      // AdditionalPropertiesItem { oneof { Schema schema = 1; bool boolean = 2; } }
      const a = new Writer();
      if (typeof s.additionalProperties === 'boolean') {
        a.forceBool(2, s.additionalProperties);
      } else a.message(1, schema(s.additionalProperties) ?? Buffer.alloc(0));
      w.message(21, a.finish());
    }
    if (s.type !== undefined) {
      // TypeItem { repeated string value = 1; }
      const t = new Writer();
      t.strings(1, Array.isArray(s.type) ? s.type : [s.type]);
      w.message(22, t.finish());
    }
    if (s.items !== undefined) {
      // ItemsItem { repeated Schema schema = 1; }
      const it = new Writer();
      for (const item of Array.isArray(s.items) ? s.items : [s.items]) it.message(1, schema(item) ?? Buffer.alloc(0));
      w.message(23, it.finish());
    }
    if (Array.isArray(s.allOf)) for (const x of s.allOf) w.message(24, schema(x) ?? Buffer.alloc(0));
    if (isObj(s.properties)) {
      // Properties { repeated NamedSchema additional_properties = 1; }
      const p = new Writer();
      named(p, 1, s.properties, (x) => schema(x) ?? Buffer.alloc(0));
      w.message(25, p.finish());
    }
    w.string(26, s.discriminator);
    w.bool(27, s.readOnly);
    w.message(29, externalDocs(s.externalDocs));
    w.message(30, anyValue(s.example));
    extensions(w, 31, s);
  });
}

function primitivesItems(v: any): Buffer | undefined {
  return msg(v, (w, s) => {
    w.string(1, s.type);
    w.string(2, s.format);
    w.message(3, primitivesItems(s.items));
    w.string(4, s.collectionFormat);
    w.message(5, anyValue(s.default));
    w.double(6, s.maximum);
    w.bool(7, s.exclusiveMaximum);
    w.double(8, s.minimum);
    w.bool(9, s.exclusiveMinimum);
    w.int64(10, s.maxLength);
    w.int64(11, s.minLength);
    w.string(12, s.pattern);
    w.int64(13, s.maxItems);
    w.int64(14, s.minItems);
    w.bool(15, s.uniqueItems);
    if (Array.isArray(s.enum)) for (const e of s.enum) w.message(16, anyValue(e));
    w.double(17, s.multipleOf);
    extensions(w, 18, s);
  });
}

/**
 * The sub-schemas of a non-body parameter. Query and formData have allow_empty_value at 5 and
 * everything after shifted by one; header and path don't.
 */
function subSchema(p: any, withAllowEmpty: boolean): Buffer {
  const w = new Writer();
  w.bool(1, p.required);
  w.string(2, p.in);
  w.string(3, p.description);
  w.string(4, p.name);
  const o = withAllowEmpty ? 1 : 0;
  if (withAllowEmpty) w.bool(5, p.allowEmptyValue);
  w.string(5 + o, p.type);
  w.string(6 + o, p.format);
  w.message(7 + o, primitivesItems(p.items));
  w.string(8 + o, p.collectionFormat);
  w.message(9 + o, anyValue(p.default));
  w.double(10 + o, p.maximum);
  w.bool(11 + o, p.exclusiveMaximum);
  w.double(12 + o, p.minimum);
  w.bool(13 + o, p.exclusiveMinimum);
  w.int64(14 + o, p.maxLength);
  w.int64(15 + o, p.minLength);
  w.string(16 + o, p.pattern);
  w.int64(17 + o, p.maxItems);
  w.int64(18 + o, p.minItems);
  w.bool(19 + o, p.uniqueItems);
  if (Array.isArray(p.enum)) for (const e of p.enum) w.message(20 + o, anyValue(e));
  w.double(21 + o, p.multipleOf);
  extensions(w, 22 + o, p);
  return w.finish();
}

// Parameter { oneof { BodyParameter body_parameter = 1; NonBodyParameter non_body_parameter = 2; } }
function parameter(p: any): Buffer | undefined {
  return msg(p, (w, v) => {
    if (v.in === 'body') {
      w.message(
        1,
        msg(v, (b, x) => {
          b.string(1, x.description);
          b.string(2, x.name);
          b.string(3, x.in);
          b.bool(4, x.required);
          b.message(5, schema(x.schema));
          extensions(b, 6, x);
        }),
      );
      return;
    }
    // NonBodyParameter { header = 1; form_data = 2; query = 3; path = 4 }
    const nb = new Writer();
    if (v.in === 'header') nb.message(1, subSchema(v, false));
    else if (v.in === 'formData') nb.message(2, subSchema(v, true));
    else if (v.in === 'path') nb.message(4, subSchema(v, false));
    else nb.message(3, subSchema(v, true));
    w.message(2, nb.finish());
  });
}

// ParametersItem { oneof { Parameter parameter = 1; JsonReference json_reference = 2; } }
function parametersItem(p: any): Buffer | undefined {
  return msg(p, (w, v) => {
    if (typeof v.$ref === 'string') {
      w.message(
        2,
        msg(v, (r, x) => {
          r.string(1, x.$ref);
          r.string(2, x.description);
        }),
      );
    } else w.message(1, parameter(v));
  });
}

function response(r: any): Buffer | undefined {
  return msg(r, (w, v) => {
    w.string(1, v.description);
    // SchemaItem { oneof { Schema schema = 1; FileSchema file_schema = 2; } }
    if (isObj(v.schema)) {
      const si = new Writer();
      si.message(1, schema(v.schema));
      w.message(2, si.finish());
    }
    extensions(w, 5, v);
  });
}

function operation(op: any): Buffer | undefined {
  return msg(op, (w, o) => {
    w.strings(1, o.tags);
    w.string(2, o.summary);
    w.string(3, o.description);
    w.message(4, externalDocs(o.externalDocs));
    w.string(5, o.operationId);
    w.strings(6, o.produces);
    w.strings(7, o.consumes);
    if (Array.isArray(o.parameters)) for (const p of o.parameters) w.message(8, parametersItem(p));
    if (isObj(o.responses)) {
      // Responses { repeated NamedResponseValue response_code = 1; vendor_extension = 2 }
      const rs = new Writer();
      for (const [code, r] of Object.entries(o.responses)) {
        if (code.startsWith('x-')) continue;
        const e = new Writer();
        e.forceString(1, code);
        // ResponseValue { oneof { Response response = 1; JsonReference json_reference = 2; } }
        const rv = new Writer();
        if (isObj(r) && typeof r.$ref === 'string')
          rv.message(
            2,
            msg(r, (j, x) => j.string(1, x.$ref)),
          );
        else rv.message(1, response(r) ?? Buffer.alloc(0));
        e.message(2, rv.finish());
        rs.message(1, e.finish());
      }
      extensions(rs, 2, o.responses);
      w.message(9, rs.finish());
    }
    w.strings(10, o.schemes);
    w.bool(11, o.deprecated);
    if (Array.isArray(o.security)) for (const s of o.security) w.message(12, securityRequirement(s));
    extensions(w, 13, o);
  });
}

// SecurityRequirement { repeated NamedStringArray additional_properties = 1; }
function securityRequirement(s: any): Buffer | undefined {
  return msg(s, (w, v) => named(w, 1, v, (list) => msg(list ?? [], (a, l) => a.strings(1, l))));
}

const PATH_METHODS: [string, number][] = [
  ['get', 2],
  ['put', 3],
  ['post', 4],
  ['delete', 5],
  ['options', 6],
  ['head', 7],
  ['patch', 8],
];

function pathItem(item: any): Buffer | undefined {
  return msg(item, (w, v) => {
    w.string(1, v.$ref);
    for (const [m, f] of PATH_METHODS) w.message(f, operation(v[m]));
    if (Array.isArray(v.parameters)) for (const p of v.parameters) w.message(9, parametersItem(p));
    extensions(w, 10, v);
  });
}

function securityScheme(s: any): Buffer | undefined {
  // SecurityDefinitionsItem { basic = 1; api_key = 2; oauth2 ... }
  return msg(s, (w, v) => {
    if (v.type === 'basic') {
      w.message(
        1,
        msg(v, (b, x) => {
          b.string(1, x.type);
          b.string(2, x.description);
          extensions(b, 3, x);
        }),
      );
    } else if (v.type === 'apiKey') {
      w.message(
        2,
        msg(v, (b, x) => {
          b.string(1, x.type);
          b.string(2, x.name);
          b.string(3, x.in);
          b.string(4, x.description);
          extensions(b, 5, x);
        }),
      );
    }
  });
}

/** Encode a Swagger 2.0 JSON document as a gnostic openapi_v2.Document. */
export function encodeOpenAPIV2(doc: any): Buffer {
  const w = new Writer();
  w.string(1, doc.swagger);
  w.message(
    2,
    msg(doc.info, (i, v) => {
      i.string(1, v.title);
      i.string(2, v.version);
      i.string(3, v.description);
      i.string(4, v.termsOfService);
      extensions(i, 7, v);
    }),
  );
  w.string(3, doc.host);
  w.string(4, doc.basePath);
  w.strings(5, doc.schemes);
  w.strings(6, doc.consumes);
  w.strings(7, doc.produces);
  if (isObj(doc.paths)) {
    // Paths { repeated NamedAny vendor_extension = 1; repeated NamedPathItem path = 2; }
    const p = new Writer();
    extensions(p, 1, doc.paths);
    named(
      p,
      2,
      Object.fromEntries(Object.entries(doc.paths).filter(([k]) => !k.startsWith('x-'))),
      (x) => pathItem(x) ?? Buffer.alloc(0),
    );
    w.message(8, p.finish());
  }
  if (isObj(doc.definitions)) {
    const d = new Writer();
    named(d, 1, doc.definitions, (x) => schema(x) ?? Buffer.alloc(0));
    w.message(9, d.finish());
  }
  if (isObj(doc.parameters)) {
    const d = new Writer();
    named(d, 1, doc.parameters, (x) => parameter(x) ?? Buffer.alloc(0));
    w.message(10, d.finish());
  }
  if (isObj(doc.responses)) {
    const d = new Writer();
    named(d, 1, doc.responses, (x) => response(x) ?? Buffer.alloc(0));
    w.message(11, d.finish());
  }
  if (Array.isArray(doc.security)) for (const s of doc.security) w.message(12, securityRequirement(s));
  if (isObj(doc.securityDefinitions)) {
    const d = new Writer();
    named(d, 1, doc.securityDefinitions, (x) => securityScheme(x) ?? Buffer.alloc(0));
    w.message(13, d.finish());
  }
  if (Array.isArray(doc.tags)) {
    for (const t of doc.tags) {
      w.message(
        14,
        msg(t, (tw, v) => {
          tw.string(1, v.name);
          tw.string(2, v.description);
          tw.message(3, externalDocs(v.externalDocs));
          extensions(tw, 4, v);
        }),
      );
    }
  }
  w.message(15, externalDocs(doc.externalDocs));
  extensions(w, 16, doc);
  return w.finish();
}

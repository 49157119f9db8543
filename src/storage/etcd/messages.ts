// etcd v3's gRPC messages (etcdserverpb and mvccpb), encoded by hand with the field numbers of
// etcd's published API reference. Only the fields this backend uses are modelled.
import { ProtoWriter, readFields, asBuffer, asNumber, type FieldValue } from './wire.js';

export interface KV {
  key: Buffer;
  value: Buffer;
  createRevision: number;
  modRevision: number;
  version: number;
}

export interface Header {
  revision: number;
}

export interface RangeRequest {
  key: Buffer;
  rangeEnd?: Buffer;
  limit?: number;
  revision?: number;
}

export interface RangeResponse {
  header: Header;
  kvs: KV[];
  more: boolean;
}

export interface PutRequest {
  key: Buffer;
  value: Buffer;
  lease?: bigint;
  prevKv?: boolean;
}

export interface DeleteRangeRequest {
  key: Buffer;
  rangeEnd?: Buffer;
  prevKv?: boolean;
}

export type RequestOp = { range: RangeRequest } | { put: PutRequest } | { deleteRange: DeleteRangeRequest };

export interface ResponseOp {
  range?: RangeResponse;
  put?: { header: Header; prevKv?: KV };
  deleteRange?: { header: Header; deleted: number; prevKvs: KV[] };
}

/** Compare.CompareResult and Compare.CompareTarget. */
export const CompareResult = { EQUAL: 0, GREATER: 1, LESS: 2, NOT_EQUAL: 3 } as const;
export const CompareTarget = { VERSION: 0, CREATE: 1, MOD: 2, VALUE: 3 } as const;

export interface Compare {
  key: Buffer;
  result: number;
  target: number;
  /** For CREATE: create_revision; MOD: mod_revision; VERSION: version. */
  revision: number;
}

export interface TxnRequest {
  compare: Compare[];
  success: RequestOp[];
  failure: RequestOp[];
}

export interface TxnResponse {
  header: Header;
  succeeded: boolean;
  responses: ResponseOp[];
}

export interface WatchCreate {
  key: Buffer;
  rangeEnd?: Buffer;
  startRevision?: number;
  progressNotify?: boolean;
  prevKv?: boolean;
}

/** A cluster member (etcdserverpb.Member). IDs are uint64: kept as bigint. */
export interface Member {
  id: bigint;
  /** Empty for a member added but not started yet. */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export type WatchRequest = { create: WatchCreate } | { cancel: number } | { progress: true };

export interface WatchEvent {
  type: 'put' | 'delete';
  kv: KV;
  prevKv?: KV;
}

export interface WatchResponse {
  header: Header;
  watchId: number;
  created: boolean;
  canceled: boolean;
  compactRevision: number;
  cancelReason: string;
  events: WatchEvent[];
}

// ---- encoders ----

function rangeRequest(r: RangeRequest): ProtoWriter {
  return new ProtoWriter().bytesField(1, r.key).bytesField(2, r.rangeEnd).int(3, r.limit).int(4, r.revision);
}

function putRequest(r: PutRequest): ProtoWriter {
  return new ProtoWriter().bytesField(1, r.key).bytesField(2, r.value).int(3, r.lease).bool(4, r.prevKv);
}

function deleteRangeRequest(r: DeleteRangeRequest): ProtoWriter {
  return new ProtoWriter().bytesField(1, r.key).bytesField(2, r.rangeEnd).bool(3, r.prevKv);
}

function requestOp(op: RequestOp): ProtoWriter {
  const w = new ProtoWriter();
  if ('range' in op) return w.message(1, rangeRequest(op.range));
  if ('put' in op) return w.message(2, putRequest(op.put));
  return w.message(3, deleteRangeRequest(op.deleteRange));
}

function compare(c: Compare): ProtoWriter {
  const w = new ProtoWriter().int(1, c.result).int(2, c.target).bytesField(3, c.key);
  // target_union: version = 4, create_revision = 5, mod_revision = 6. A oneof member is sent
  // even when zero ("create_revision == 0" is how a create checks the key is absent).
  const field = c.target === CompareTarget.VERSION ? 4 : c.target === CompareTarget.CREATE ? 5 : 6;
  return w.oneofInt(field, c.revision);
}

export const encode = {
  range: (r: RangeRequest) => rangeRequest(r).finish(),
  put: (r: PutRequest) => putRequest(r).finish(),
  deleteRange: (r: DeleteRangeRequest) => deleteRangeRequest(r).finish(),
  txn(t: TxnRequest): Buffer {
    const w = new ProtoWriter();
    for (const c of t.compare) w.message(1, compare(c));
    for (const op of t.success) w.message(2, requestOp(op));
    for (const op of t.failure) w.message(3, requestOp(op));
    return w.finish();
  },
  compact: (revision: number, physical: boolean) => new ProtoWriter().int(1, revision).bool(2, physical).finish(),
  watch(r: WatchRequest): Buffer {
    const w = new ProtoWriter();
    if ('create' in r) {
      const c = r.create;
      return w
        .message(
          1,
          new ProtoWriter()
            .bytesField(1, c.key)
            .bytesField(2, c.rangeEnd)
            .int(3, c.startRevision)
            .bool(4, c.progressNotify)
            .bool(6, c.prevKv),
        )
        .finish();
    }
    if ('cancel' in r) return w.message(2, new ProtoWriter().int(1, r.cancel)).finish();
    return w.message(3, new ProtoWriter()).finish();
  },
  memberAdd: (peerURLs: string[], isLearner = false) => {
    const w = new ProtoWriter();
    for (const u of peerURLs) w.bytesField(1, u);
    return w.bool(2, isLearner).finish();
  },
  memberRemove: (id: bigint) => new ProtoWriter().int(1, id).finish(),
  /** MemberListRequest.linearizable (field 1): etcd before 3.5 ignores it. */
  memberList: () => new ProtoWriter().bool(1, true).finish(),
  leaseGrant: (ttlSeconds: number) => new ProtoWriter().int(1, ttlSeconds).finish(),
  leaseKeepAlive: (id: bigint) => new ProtoWriter().int(1, id).finish(),
  empty: () => Buffer.alloc(0),
};

// ---- decoders ----

function header(buf: Buffer): Header {
  const h: Header = { revision: 0 };
  readFields(buf, (f, v) => {
    if (f === 3) h.revision = asNumber(v);
  });
  return h;
}

function kv(buf: Buffer): KV {
  const out: KV = { key: Buffer.alloc(0), value: Buffer.alloc(0), createRevision: 0, modRevision: 0, version: 0 };
  readFields(buf, (f, v) => {
    if (f === 1) out.key = asBuffer(v);
    else if (f === 2) out.createRevision = asNumber(v);
    else if (f === 3) out.modRevision = asNumber(v);
    else if (f === 4) out.version = asNumber(v);
    else if (f === 5) out.value = asBuffer(v);
  });
  return out;
}

function rangeResponse(buf: Buffer): RangeResponse {
  const r: RangeResponse = { header: { revision: 0 }, kvs: [], more: false };
  readFields(buf, (f, v) => {
    if (f === 1) r.header = header(asBuffer(v));
    else if (f === 2) r.kvs.push(kv(asBuffer(v)));
    else if (f === 3) r.more = asNumber(v) !== 0;
  });
  return r;
}

function responseOp(buf: Buffer): ResponseOp {
  const r: ResponseOp = {};
  readFields(buf, (f, v) => {
    const b = asBuffer(v);
    if (f === 1) r.range = rangeResponse(b);
    else if (f === 2) r.put = decode.put(b);
    else if (f === 3) r.deleteRange = decode.deleteRange(b);
  });
  return r;
}

function event(buf: Buffer): WatchEvent {
  const e: WatchEvent = { type: 'put', kv: kv(Buffer.alloc(0)) };
  readFields(buf, (f, v) => {
    if (f === 1) e.type = asNumber(v) === 1 ? 'delete' : 'put';
    else if (f === 2) e.kv = kv(asBuffer(v));
    else if (f === 3) e.prevKv = kv(asBuffer(v));
  });
  return e;
}

function member(buf: Buffer): Member {
  const m: Member = { id: 0n, name: '', peerURLs: [], clientURLs: [], isLearner: false };
  readFields(buf, (f, v) => {
    if (f === 1) m.id = BigInt.asUintN(64, BigInt(v as number | bigint));
    else if (f === 2) m.name = asBuffer(v).toString();
    else if (f === 3) m.peerURLs.push(asBuffer(v).toString());
    else if (f === 4) m.clientURLs.push(asBuffer(v).toString());
    else if (f === 5) m.isLearner = asNumber(v) !== 0;
  });
  return m;
}

const onlyHeader = (buf: Buffer): { header: Header } => {
  let h: Header = { revision: 0 };
  readFields(buf, (f, v) => {
    if (f === 1) h = header(asBuffer(v));
  });
  return { header: h };
};

export const decode = {
  range: rangeResponse,
  put(buf: Buffer): { header: Header; prevKv?: KV } {
    const r: { header: Header; prevKv?: KV } = { header: { revision: 0 } };
    readFields(buf, (f, v) => {
      if (f === 1) r.header = header(asBuffer(v));
      else if (f === 2) r.prevKv = kv(asBuffer(v));
    });
    return r;
  },
  deleteRange(buf: Buffer): { header: Header; deleted: number; prevKvs: KV[] } {
    const r = { header: { revision: 0 }, deleted: 0, prevKvs: [] as KV[] };
    readFields(buf, (f, v) => {
      if (f === 1) r.header = header(asBuffer(v));
      else if (f === 2) r.deleted = asNumber(v);
      else if (f === 3) r.prevKvs.push(kv(asBuffer(v)));
    });
    return r;
  },
  txn(buf: Buffer): TxnResponse {
    const r: TxnResponse = { header: { revision: 0 }, succeeded: false, responses: [] };
    readFields(buf, (f, v) => {
      if (f === 1) r.header = header(asBuffer(v));
      else if (f === 2) r.succeeded = asNumber(v) !== 0;
      else if (f === 3) r.responses.push(responseOp(asBuffer(v)));
    });
    return r;
  },
  compact: onlyHeader,
  watch(buf: Buffer): WatchResponse {
    const r: WatchResponse = {
      header: { revision: 0 },
      watchId: 0,
      created: false,
      canceled: false,
      compactRevision: 0,
      cancelReason: '',
      events: [],
    };
    readFields(buf, (f, v) => {
      if (f === 1) r.header = header(asBuffer(v));
      else if (f === 2) r.watchId = asNumber(v);
      else if (f === 3) r.created = asNumber(v) !== 0;
      else if (f === 4) r.canceled = asNumber(v) !== 0;
      else if (f === 5) r.compactRevision = asNumber(v);
      else if (f === 6) r.cancelReason = asBuffer(v).toString();
      else if (f === 11) r.events.push(event(asBuffer(v)));
    });
    return r;
  },
  leaseGrant(buf: Buffer): { id: bigint; ttl: number; error: string } {
    const r = { id: 0n, ttl: 0, error: '' };
    readFields(buf, (f, v: FieldValue) => {
      if (f === 2) r.id = BigInt(v as number | bigint);
      else if (f === 3) r.ttl = asNumber(v);
      else if (f === 4) r.error = asBuffer(v).toString();
    });
    return r;
  },
  leaseKeepAlive(buf: Buffer): { id: bigint; ttl: number } {
    const r = { id: 0n, ttl: 0 };
    readFields(buf, (f, v) => {
      if (f === 2) r.id = BigInt(v as number | bigint);
      else if (f === 3) r.ttl = asNumber(v);
    });
    return r;
  },
  status(buf: Buffer): { header: Header; version: string } {
    const r = { header: { revision: 0 }, version: '' };
    readFields(buf, (f, v) => {
      if (f === 1) r.header = header(asBuffer(v));
      else if (f === 2) r.version = asBuffer(v).toString();
    });
    return r;
  },
  /** MemberAddResponse: the new member (field 2) and the whole list after the add (field 3). */
  memberAdd(buf: Buffer): { member: Member; members: Member[] } {
    const r = { member: member(Buffer.alloc(0)), members: [] as Member[] };
    readFields(buf, (f, v) => {
      if (f === 2) r.member = member(asBuffer(v));
      else if (f === 3) r.members.push(member(asBuffer(v)));
    });
    return r;
  },
  /** MemberListResponse and MemberRemoveResponse: the members (field 2). */
  members(buf: Buffer): Member[] {
    const out: Member[] = [];
    readFields(buf, (f, v) => {
      if (f === 2) out.push(member(asBuffer(v)));
    });
    return out;
  },
  /** One SnapshotResponse of the stream: bytes still to come (field 2) and this chunk (field 3). */
  snapshotChunk(buf: Buffer): { remaining: number; blob: Buffer } {
    const r: { remaining: number; blob: Buffer } = { remaining: 0, blob: Buffer.alloc(0) };
    readFields(buf, (f, v) => {
      if (f === 2) r.remaining = asNumber(v);
      else if (f === 3) r.blob = asBuffer(v);
    });
    return r;
  },
};

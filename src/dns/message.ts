// The DNS wire format around dns-packet: decoding a query without ever throwing past this module
// (a malformed packet becomes FORMERR or is dropped), building replies with the header bits and
// EDNS0 record a resolver expects, and fitting a UDP reply into the client's buffer (TC when it
// does not fit, so the client retries over TCP).
import * as packet from 'dns-packet';
import type { Answer, OptAnswer, Packet, Question, RecordType } from 'dns-packet';

export type { Answer, Question, RecordType };

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
/** BADVERS is an extended rcode (16): 1 in the OPT record's upper bits, 0 in the header. */
const BADVERS_EXTENDED = 1;

const QR = 0x8000;
const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;
const RA = 0x0080;
const CD = 0x0010;

/** A UDP reply without EDNS0 is at most 512 bytes (RFC 1035). */
export const CLASSIC_UDP_SIZE = 512;
/** The largest UDP size we accept from a client's OPT record (the 2020 DNS flag day figure is 1232; 4096 is the common ceiling). */
export const MAX_UDP_SIZE = 4096;
/** The size we advertise in our own OPT record. */
export const OUR_UDP_SIZE = 1232;

export interface DnsQuery {
  id: number;
  opcode: number;
  /** The question as asked (owner names in replies keep the client's case). */
  question: Question;
  /** Lower-case name without a trailing dot: what lookups compare. */
  qname: string;
  rd: boolean;
  cd: boolean;
  /** The client's EDNS0 record, when it sent one. */
  edns?: { udpSize: number; version: number; do: boolean };
}

export interface DnsReply {
  rcode: number;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
  /** Authoritative (our zones) or not (forwarded). */
  authoritative: boolean;
}

/** The smallest TTL among the records (OPT pseudo-records have none). */
export function minTtl(records: Answer[]): number | undefined {
  let m: number | undefined;
  for (const r of records)
    if (r.type !== 'OPT' && typeof r.ttl === 'number') m = m === undefined ? r.ttl : Math.min(m, r.ttl);
  return m;
}

export function reply(
  rcode: number,
  answers: Answer[] = [],
  authorities: Answer[] = [],
  additionals: Answer[] = [],
  authoritative = true,
): DnsReply {
  return { rcode, answers, authorities, additionals, authoritative };
}

export type ParseResult =
  | { kind: 'query'; query: DnsQuery }
  /** Answer with this header only (FORMERR, NOTIMP, BADVERS...). */
  | {
      kind: 'error';
      id: number;
      opcode: number;
      rcode: number;
      rd: boolean;
      extendedRcode?: number;
      edns?: boolean;
      question?: Question;
    }
  /** Not worth an answer: too short to carry an ID, or a response (answering responses invites loops). */
  | { kind: 'drop' };

/** Decodes a query; never throws. */
export function parseQuery(buf: Buffer): ParseResult {
  if (buf.length < 12) return { kind: 'drop' };
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & QR) return { kind: 'drop' };
  const opcode = (flags >> 11) & 0xf;
  const rd = !!(flags & RD);
  const qdcount = buf.readUInt16BE(4);
  if (opcode !== 0) return { kind: 'error', id, opcode, rcode: RCODE.NOTIMP, rd };
  if (qdcount !== 1) return { kind: 'error', id, opcode, rcode: RCODE.FORMERR, rd };
  let p: Packet;
  try {
    p = packet.decode(buf);
  } catch {
    return { kind: 'error', id, opcode, rcode: RCODE.FORMERR, rd };
  }
  const q = p.questions?.[0];
  if (!q || typeof q.name !== 'string' || typeof q.type !== 'string')
    return { kind: 'error', id, opcode, rcode: RCODE.FORMERR, rd };
  const opts = (p.additionals ?? []).filter((a): a is OptAnswer => a.type === 'OPT');
  if (opts.length > 1) return { kind: 'error', id, opcode, rcode: RCODE.FORMERR, rd, question: q };
  let edns: DnsQuery['edns'];
  if (opts.length === 1) {
    const o = opts[0];
    edns = {
      udpSize: Math.min(MAX_UDP_SIZE, Math.max(CLASSIC_UDP_SIZE, o.udpPayloadSize ?? 0)),
      version: o.ednsVersion ?? 0,
      do: !!o.flag_do,
    };
    if (edns.version !== 0)
      return { kind: 'error', id, opcode, rcode: 0, rd, extendedRcode: BADVERS_EXTENDED, edns: true, question: q };
  }
  const qname = q.name.toLowerCase().replace(/\.$/, '');
  return { kind: 'query', query: { id, opcode, question: q, qname, rd, cd: !!(flags & CD), edns } };
}

function optRecord(extendedRcode = 0, dnssecOk = false): Answer {
  // dns-packet's Answer union leaves OPT out of what encode() takes; the record is valid for it.
  const opt: OptAnswer = {
    type: 'OPT',
    name: '.',
    udpPayloadSize: OUR_UDP_SIZE,
    extendedRcode,
    ednsVersion: 0,
    flags: dnssecOk ? 0x8000 : 0,
    flag_do: dnssecOk,
    options: [],
  };
  return opt;
}

function headerFlags(opcode: number, rcode: number, rd: boolean, aa: boolean, tc: boolean): number {
  return QR | ((opcode & 0xf) << 11) | (aa ? AA : 0) | (tc ? TC : 0) | (rd ? RD : 0) | RA | (rcode & 0xf);
}

/** The bytes of an error reply (header, the question when it was readable, OPT when the client used EDNS). */
export function encodeError(e: Extract<ParseResult, { kind: 'error' }>): Buffer {
  return packet.encode({
    type: 'response',
    id: e.id,
    flags: headerFlags(e.opcode, e.rcode, e.rd, false, false),
    questions: e.question ? [e.question] : [],
    additionals: e.edns ? [optRecord(e.extendedRcode ?? 0)] : [],
  });
}

/**
 * The bytes of a reply. Over UDP (maxSize set) a reply larger than the client's buffer is sent
 * as its header and question with TC set: the client asks again over TCP and gets all of it.
 */
export function encodeReply(q: DnsQuery, r: DnsReply, maxSize?: number): Buffer {
  const additionals: Answer[] = r.additionals.filter((a) => a.type !== 'OPT');
  if (q.edns) additionals.push(optRecord(0, q.edns.do));
  const base = { type: 'response' as const, id: q.id, questions: [q.question] };
  const full = packet.encode({
    ...base,
    flags: headerFlags(q.opcode, r.rcode, q.rd, r.authoritative, false),
    answers: r.answers,
    authorities: r.authorities,
    additionals,
  });
  if (maxSize === undefined || full.length <= maxSize) return full;
  return packet.encode({
    ...base,
    flags: headerFlags(q.opcode, r.rcode, q.rd, r.authoritative, true),
    additionals: q.edns ? [optRecord(0, q.edns.do)] : [],
  });
}

/** The UDP size limit of a reply to this query. */
export function udpLimit(q: DnsQuery): number {
  return q.edns ? q.edns.udpSize : CLASSIC_UDP_SIZE;
}

/** Encodes a query (for forwarding and tests). */
export function encodeQuery(
  id: number,
  question: Question,
  opts: { rd?: boolean; udpSize?: number; do?: boolean } = {},
): Buffer {
  const additionals: Answer[] = opts.udpSize
    ? [{ ...optRecord(0, !!opts.do), udpPayloadSize: opts.udpSize } as Answer]
    : [];
  return packet.encode({ type: 'query', id, flags: opts.rd === false ? 0 : RD, questions: [question], additionals });
}

/** Decodes a reply (from an upstream server, or in tests); throws on malformed input. */
export function decodeReply(buf: Buffer): Packet & { rcode: number; truncated: boolean } {
  const p = packet.decode(buf);
  const flags = buf.readUInt16BE(2);
  return Object.assign(p, { rcode: flags & 0xf, truncated: !!(flags & TC) });
}

/** Lower-case, no trailing dot. */
export function canonical(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

// CoreDNS's shape: every feature is a plugin with one method, serve(request, next), and a server
// block is a chain of them. A plugin answers, or hands the request to the rest of the chain (and
// may look at or change what comes back: cache, rewrite, metrics do).
import type { DnsQuery, DnsReply } from './message.js';
import type { ReplyNotes } from './wirecache.js';
import { RCODE, reply } from './message.js';

export interface DnsRequest {
  query: DnsQuery;
  transport: 'udp' | 'tcp';
  /** The client's address (for `transfer to`, autopath's pod lookup, logs). */
  remoteAddress: string;
  /** Resolves another name through the whole chain (CNAME targets, autopath); depth-limited. */
  resolve(name: string, type: DnsQuery['question']['type']): Promise<DnsReply>;
  depth: number;
  /** What plugins say about the reply for the wire cache (see wirecache.ts); nested lookups share it. */
  notes?: ReplyNotes;
}

export type Next = (req: DnsRequest) => Promise<DnsReply>;

export interface Plugin {
  readonly name: string;
  serve(req: DnsRequest, next: Next): Promise<DnsReply>;
}

/** The end of every chain: nobody is authoritative for the name and nothing forwards it. */
const refuse: Next = () => Promise.resolve(reply(RCODE.REFUSED, [], [], [], false));

/** Links plugins into one handler, first plugin first. */
export function chain(plugins: Plugin[], last: Next = refuse): Next {
  return plugins.reduceRight<Next>((next, p) => (req) => p.serve(req, next), last);
}

/** Is `name` (canonical) equal to or below `zone` (canonical; '' is the root)? */
export function inZone(name: string, zone: string): boolean {
  return zone === '' || name === zone || name.endsWith(`.${zone}`);
}

// Zone transfer (AXFR, RFC 5936) of the cluster zone over TCP: the SOA, every record, the SOA
// again, in messages of at most `batch` records. Only clients the `transfer { to ... }` list
// allows get it ('*' allows everybody); others get REFUSED.
import ipaddr from 'ipaddr.js';
import { RCODE, reply, type Answer, type DnsReply } from './message.js';
import type { KubernetesPlugin } from './kubernetes.js';
import type { DnsRequest } from './plugin.js';
import type { StreamingTransfer } from './server.js';

/** Does `to` (addresses, CIDRs or '*') allow `client`? */
export function transferAllowed(to: string[], client: string): boolean {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(client);
  } catch {
    return false;
  }
  return to.some((t) => {
    if (t === '*') return true;
    try {
      if (t.includes('/')) {
        const [net, bits] = ipaddr.parseCIDR(t);
        return net.kind() === addr.kind() && addr.match([net, bits] as never);
      }
      return ipaddr.process(t).toString() === addr.toString();
    } catch {
      return false;
    }
  });
}

export class ZoneTransfer implements StreamingTransfer {
  constructor(
    private readonly kubernetes: () => KubernetesPlugin | undefined,
    private readonly to: () => string[],
    private readonly batch = 100,
  ) {}

  transfer(req: DnsRequest): AsyncIterable<DnsReply> | undefined {
    const k = this.kubernetes();
    if (req.query.question.type !== 'AXFR' || !k || req.query.qname !== k.opts.zone) return undefined;
    const allowed = transferAllowed(this.to(), req.remoteAddress);
    const batch = this.batch;
    // eslint-disable-next-line @typescript-eslint/require-await -- transfer() hands out an AsyncIterable; these records need no await
    return (async function* () {
      if (!allowed) {
        yield reply(RCODE.REFUSED);
        return;
      }
      let part: Answer[] = [];
      let soa: Answer | undefined;
      for (const r of k.zoneRecords()) {
        soa ??= r;
        part.push(r);
        if (part.length >= batch) {
          yield reply(RCODE.NOERROR, part);
          part = [];
        }
      }
      part.push(soa!);
      yield reply(RCODE.NOERROR, part);
    })();
  }
}

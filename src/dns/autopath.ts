// autopath: the search path walked on the server. A pod with ndots:5 asks `web.<ns>.svc.<zone>`,
// then `web.svc.<zone>`, ... for a name outside the cluster; when the first question comes from
// a known pod (pods verified gives the pod by its address), every candidate is tried here and
// the first that exists is answered at once, as a CNAME from the asked name, as CoreDNS does.
import type { Pod } from 'kubernetes-types/core/v1.js';
import { RCODE, type DnsReply } from './message.js';
import type { DnsRequest, Next, Plugin } from './plugin.js';

export class AutopathPlugin implements Plugin {
  readonly name = 'autopath';

  constructor(
    private readonly zone: string,
    private readonly podByIP: (ip: string) => Pod | undefined,
    /** The host's search domains, after the cluster's in a pod's resolv.conf. */
    private readonly hostSearch: string[],
  ) {}

  async serve(req: DnsRequest, next: Next): Promise<DnsReply> {
    const q = req.query;
    if (req.depth > 0) return next(req);
    const pod = this.podByIP(req.remoteAddress.replace(/^::ffff:/, ''));
    const ns = pod?.metadata?.namespace;
    const first = ns ? `.${ns}.svc.${this.zone}` : undefined;
    if (!first || !q.qname.endsWith(first)) return next(req);
    const base = q.qname.slice(0, -first.length);
    if (!base) return next(req);
    const direct = await next(req);
    if (direct.rcode !== RCODE.NXDOMAIN) return direct;
    const search = [`svc.${this.zone}`, this.zone, ...this.hostSearch];
    for (const candidate of [...search.map((s) => `${base}.${s}`), base]) {
      const r = await req.resolve(candidate, q.question.type);
      if (r.rcode === RCODE.NOERROR && r.answers.length) {
        return {
          ...r,
          answers: [{ type: 'CNAME', name: q.question.name, ttl: 5, class: 'IN', data: candidate }, ...r.answers],
        };
      }
    }
    return direct;
  }
}

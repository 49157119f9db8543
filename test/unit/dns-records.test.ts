// The cluster DNS records (kubernetes/dns specification 1.0.1 and CoreDNS's kubernetes plugin):
// a table of questions and the answers the plugin chain gives over objects in informer stores.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import {
  KubernetesPlugin,
  DEFAULT_KUBERNETES_OPTIONS,
  reverseName,
  type KubernetesOptions,
} from '../../src/dns/kubernetes.js';
import { HostsPlugin } from '../../src/dns/plugins.js';
import { chain } from '../../src/dns/plugin.js';
import { handle } from '../../src/dns/server.js';
import { RCODE, type Answer, type DnsReply, type RecordType } from '../../src/dns/message.js';
import { slimPod, slimService, slimSlice, staticView } from '../../src/dns/view.js';
import type { Stored } from '../../src/client/types.js';

const svc = (ns: string, name: string, spec: Service['spec'], extra: Partial<Service['metadata']> = {}): Service => ({
  metadata: { namespace: ns, name, ...extra },
  spec,
});
const slice = (
  ns: string,
  svcName: string,
  name: string,
  endpoints: NonNullable<EndpointSlice['endpoints']>,
  ports: EndpointSlice['ports'],
  addressType = 'IPv4',
): EndpointSlice => ({
  metadata: { namespace: ns, name, labels: { 'kubernetes.io/service-name': svcName } },
  addressType,
  endpoints,
  ports,
});

const objects = {
  namespaces: ['default', 'kube-system', 'empty'],
  services: [
    svc('default', 'kubernetes', { clusterIP: '10.43.0.1', ports: [{ name: 'https', port: 443, protocol: 'TCP' }] }),
    svc('kube-system', 'kube-dns', { clusterIP: '10.43.0.10', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }),
    svc('default', 'web', {
      clusterIP: '10.43.0.20',
      clusterIPs: ['10.43.0.20', 'fd00::20'],
      ports: [
        { name: 'http', port: 80, protocol: 'TCP' },
        { port: 8080, protocol: 'TCP' },
        { name: 'metrics', port: 9090, protocol: 'UDP' },
      ],
    }),
    svc('default', 'db', { clusterIP: 'None', ports: [{ name: 'mysql', port: 3306 }] }),
    svc('default', 'lonely', { clusterIP: 'None' }),
    svc('default', 'eager', { clusterIP: 'None', publishNotReadyAddresses: true }),
    svc('default', 'ext', { type: 'ExternalName', externalName: 'www.example.com' }),
  ],
  slices: [
    slice(
      'default',
      'db',
      'db-abc',
      [
        {
          addresses: ['10.42.0.5'],
          hostname: 'db-0',
          conditions: { ready: true },
          targetRef: { kind: 'Pod', name: 'db-0' },
        },
        { addresses: ['10.42.0.6'], hostname: 'db-1', conditions: {}, targetRef: { kind: 'Pod', name: 'db-1' } },
        { addresses: ['10.42.0.7'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'db-x7' } },
        { addresses: ['10.42.0.8'], hostname: 'db-2', conditions: { ready: false } },
      ],
      [{ name: 'mysql', port: 3306, protocol: 'TCP' }],
    ),
    slice('default', 'lonely', 'lonely-1', [{ addresses: ['10.42.0.9'], conditions: { ready: false } }], []),
    slice(
      'default',
      'eager',
      'eager-1',
      [{ addresses: ['10.42.0.10'], hostname: 'e-0', conditions: { ready: false } }],
      [],
    ),
    slice(
      'default',
      'web',
      'web-1',
      [{ addresses: ['10.42.0.11'], conditions: { ready: true } }],
      [{ name: 'http', port: 8080, protocol: 'TCP' }],
    ),
  ],
  pods: [{ metadata: { namespace: 'default', name: 'p' }, status: { podIP: '10.42.0.11' } }] as Pod[],
};

/** The same objects as the DNS's informers keep them (slimService and friends). */
const slimObjects = {
  namespaces: objects.namespaces,
  services: objects.services.map((o) => slimService(o as Stored<Service>)),
  slices: objects.slices.map((o) => slimSlice(o as Stored<EndpointSlice>)),
  pods: objects.pods.map((o) => slimPod(o as Stored<Pod>)),
};

function resolver(opts: Partial<KubernetesOptions> = {}, view = staticView(objects)) {
  const k = new KubernetesPlugin(view, { ...DEFAULT_KUBERNETES_OPTIONS, ...opts });
  // What the chain finds past the cluster: a hosts table standing for the rest of the world.
  const world = new HostsPlugin('192.0.2.53 www.example.com\n', { zones: [''], ttl: 300, fallthrough: false });
  const handler = { current: chain([k, world]) };
  return (name: string, type: RecordType, remote = '10.42.0.99') =>
    handle(
      handler,
      {
        id: 1,
        opcode: 0,
        question: { name, type, class: 'IN' },
        qname: name.toLowerCase().replace(/\.$/, ''),
        rd: true,
        cd: false,
      },
      'udp',
      remote,
    );
}

const data = (r: DnsReply) =>
  r.answers.map((a: Answer) => `${a.type} ${JSON.stringify((a as { data: unknown }).data)}`).sort();

describe('dns records', () => {
  const q = resolver();
  const cases: [string, RecordType, number, string[]][] = [
    ['kubernetes.default.svc.cluster.local', 'A', RCODE.NOERROR, ['A "10.43.0.1"']],
    ['KUBERNETES.Default.SVC.cluster.LOCAL', 'A', RCODE.NOERROR, ['A "10.43.0.1"']],
    ['kubernetes.default.svc.cluster.local', 'AAAA', RCODE.NOERROR, []],
    ['web.default.svc.cluster.local', 'AAAA', RCODE.NOERROR, ['AAAA "fd00::20"']],
    ['web.default.svc.cluster.local', 'TXT', RCODE.NOERROR, []],
    ['nope.default.svc.cluster.local', 'A', RCODE.NXDOMAIN, []],
    ['web.nope.svc.cluster.local', 'A', RCODE.NXDOMAIN, []],
    ['default.svc.cluster.local', 'A', RCODE.NOERROR, []],
    ['empty.svc.cluster.local', 'A', RCODE.NOERROR, []],
    ['nonexistent.svc.cluster.local', 'A', RCODE.NXDOMAIN, []],
    ['svc.cluster.local', 'A', RCODE.NOERROR, []],
    ['cluster.local', 'A', RCODE.NOERROR, []],
    ['what.cluster.local', 'A', RCODE.NXDOMAIN, []],
    ['a.b.web.default.svc.cluster.local', 'A', RCODE.NXDOMAIN, []],
    ['dns-version.cluster.local', 'TXT', RCODE.NOERROR, ['TXT "1.0.1"']],
    ['dns-version.cluster.local', 'A', RCODE.NOERROR, []],
    ['ns.dns.cluster.local', 'A', RCODE.NOERROR, ['A "10.43.0.10"']],
    // SRV: named ports only under _port._proto; the service name itself lists every port.
    [
      '_http._tcp.web.default.svc.cluster.local',
      'SRV',
      RCODE.NOERROR,
      ['SRV {"priority":0,"weight":100,"port":80,"target":"web.default.svc.cluster.local"}'],
    ],
    [
      '_HTTP._TCP.web.default.svc.cluster.local',
      'SRV',
      RCODE.NOERROR,
      ['SRV {"priority":0,"weight":100,"port":80,"target":"web.default.svc.cluster.local"}'],
    ],
    [
      '_metrics._udp.web.default.svc.cluster.local',
      'SRV',
      RCODE.NOERROR,
      ['SRV {"priority":0,"weight":100,"port":9090,"target":"web.default.svc.cluster.local"}'],
    ],
    ['_metrics._tcp.web.default.svc.cluster.local', 'SRV', RCODE.NXDOMAIN, []],
    ['_tcp.web.default.svc.cluster.local', 'SRV', RCODE.NOERROR, []],
    ['_sctp.web.default.svc.cluster.local', 'SRV', RCODE.NXDOMAIN, []],
    ['_http._tcp.web.default.svc.cluster.local', 'A', RCODE.NOERROR, []],
    // Headless: ready endpoints only (a missing ready condition is ready), by hostname or dashed address.
    ['db.default.svc.cluster.local', 'A', RCODE.NOERROR, ['A "10.42.0.5"', 'A "10.42.0.6"', 'A "10.42.0.7"']],
    ['db-0.db.default.svc.cluster.local', 'A', RCODE.NOERROR, ['A "10.42.0.5"']],
    ['db-2.db.default.svc.cluster.local', 'A', RCODE.NXDOMAIN, []],
    ['10-42-0-7.db.default.svc.cluster.local', 'A', RCODE.NOERROR, ['A "10.42.0.7"']],
    ['db-0.db.default.svc.cluster.local', 'AAAA', RCODE.NOERROR, []],
    [
      '_mysql._tcp.db.default.svc.cluster.local',
      'SRV',
      RCODE.NOERROR,
      [
        'SRV {"priority":0,"weight":33,"port":3306,"target":"10-42-0-7.db.default.svc.cluster.local"}',
        'SRV {"priority":0,"weight":33,"port":3306,"target":"db-0.db.default.svc.cluster.local"}',
        'SRV {"priority":0,"weight":33,"port":3306,"target":"db-1.db.default.svc.cluster.local"}',
      ],
    ],
    ['lonely.default.svc.cluster.local', 'A', RCODE.NXDOMAIN, []],
    ['eager.default.svc.cluster.local', 'A', RCODE.NOERROR, ['A "10.42.0.10"']],
    ['e-0.eager.default.svc.cluster.local', 'A', RCODE.NOERROR, ['A "10.42.0.10"']],
    // ExternalName: a CNAME, chased through the rest of the chain.
    ['ext.default.svc.cluster.local', 'CNAME', RCODE.NOERROR, ['CNAME "www.example.com"']],
    ['ext.default.svc.cluster.local', 'A', RCODE.NOERROR, ['A "192.0.2.53"', 'CNAME "www.example.com"']],
    ['_http._tcp.ext.default.svc.cluster.local', 'SRV', RCODE.NXDOMAIN, []],
    // Pods (insecure: any address in an existing namespace form).
    ['10-42-0-11.default.pod.cluster.local', 'A', RCODE.NOERROR, ['A "10.42.0.11"']],
    ['fd00--1.default.pod.cluster.local', 'AAAA', RCODE.NOERROR, ['AAAA "fd00::1"']],
    ['10-42-0-300.default.pod.cluster.local', 'A', RCODE.NXDOMAIN, []],
    ['pod.cluster.local', 'A', RCODE.NOERROR, []],
    // PTR of cluster IPs and endpoint addresses.
    [reverseName('10.43.0.20'), 'PTR', RCODE.NOERROR, ['PTR "web.default.svc.cluster.local"']],
    [reverseName('fd00::20'), 'PTR', RCODE.NOERROR, ['PTR "web.default.svc.cluster.local"']],
    [reverseName('10.42.0.5'), 'PTR', RCODE.NOERROR, ['PTR "db-0.db.default.svc.cluster.local"']],
    // Not ours and not in the world's table: the end of the chain.
    [reverseName('192.0.2.1'), 'PTR', RCODE.NXDOMAIN, []],
  ];
  const qSlim = resolver({}, staticView(slimObjects));
  for (const [name, type, rcode, answers] of cases) {
    test(`${name} ${type}`, async () => {
      const r = await q(name, type);
      // The slim stores the informers keep answer exactly as the whole objects do.
      assert.deepEqual(await qSlim(name, type), r, `${name} ${type} from the slim stores`);
      assert.equal(r.rcode, rcode, `rcode of ${name} ${type}`);
      assert.deepEqual(data(r), answers);
      for (const a of r.answers)
        if (a.type !== 'A' || !name.startsWith('ext.'))
          assert.equal((a as { ttl?: number }).ttl, a.name === 'www.example.com' ? 300 : 5);
      // Negative answers of the cluster zone carry its SOA.
      if (name.endsWith('cluster.local') && !r.answers.length) assert.equal(r.authorities[0]?.type, 'SOA');
    });
  }

  test('answers keep the case of the question', async () => {
    const r = await q('KUBERNETES.default.svc.cluster.local', 'A');
    assert.equal(r.answers[0].name, 'KUBERNETES.default.svc.cluster.local');
  });

  test("SRV replies carry the targets' addresses in the additional section", async () => {
    const r = await q('_mysql._tcp.db.default.svc.cluster.local', 'SRV');
    assert.deepEqual(r.additionals.map((a) => `${a.name} ${(a as { data: string }).data}`).sort(), [
      '10-42-0-7.db.default.svc.cluster.local 10.42.0.7',
      'db-0.db.default.svc.cluster.local 10.42.0.5',
      'db-1.db.default.svc.cluster.local 10.42.0.6',
    ]);
  });

  test('pods verified: only addresses of pods in that namespace', async () => {
    const v = resolver({ pods: 'verified' });
    assert.equal((await v('10-42-0-11.default.pod.cluster.local', 'A')).rcode, RCODE.NOERROR);
    assert.equal((await v('10-42-0-12.default.pod.cluster.local', 'A')).rcode, RCODE.NXDOMAIN);
    assert.equal((await v('10-42-0-11.kube-system.pod.cluster.local', 'A')).rcode, RCODE.NXDOMAIN);
  });

  test('pods disabled: NXDOMAIN', async () => {
    assert.equal(
      (await resolver({ pods: 'disabled' })('10-42-0-11.default.pod.cluster.local', 'A')).rcode,
      RCODE.NXDOMAIN,
    );
  });

  test('endpoint_pod_names names endpoints without a hostname after their pod', async () => {
    const r = await resolver({ endpointPodNames: true })('db-x7.db.default.svc.cluster.local', 'A');
    assert.deepEqual(data(r), ['A "10.42.0.7"']);
  });

  test('another cluster domain', async () => {
    const r = await resolver({ zone: 'corp.internal' })('kubernetes.default.svc.corp.internal', 'A');
    assert.deepEqual(data(r), ['A "10.43.0.1"']);
    assert.equal(
      (await resolver({ zone: 'corp.internal' })('kubernetes.default.svc.cluster.local', 'A')).rcode,
      RCODE.NXDOMAIN,
    );
  });
});

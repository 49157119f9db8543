// Cluster DNS with real containers: the kube-dns Service and its endpoints (the node agent's
// listener on the pod bridge's gateway), records for services, headless pods, ExternalName and
// PTR answered to the host and to a pod (busybox nslookup), the pods' resolv.conf, a Corefile
// change in kube-system/coredns (reloaded, a bad line reported), and the metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import YAML from 'yaml';
import {
  importTestImages,
  podDNSDiagnosis,
  realContainersUnavailable,
  startCluster,
  until,
  type Cluster,
  waitForReadyNode,
} from './harness.js';
import { decodeReply, encodeQuery, RCODE, type RecordType } from '../../src/dns/message.js';
import { reverseName } from '../../src/dns/kubernetes.js';

const skip = realContainersUnavailable();
let c: Cluster;
let listener = '';
let webIP = '';
let kubernetesIP = '';
let clusterDNS = '';
const DB_IP = '10.99.0.5';

const apply = (docs: unknown[]) => c.k(['apply', '-f', '-'], docs.map((d) => YAML.stringify(d)).join('---\n'));
const jsonpath = async (args: string[], path: string) =>
  (await c.kubectl(['get', ...args, '-o', `jsonpath=${path}`])).stdout;

function ask(name: string, type: RecordType): Promise<ReturnType<typeof decodeReply>> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error(`no answer from ${listener} for ${name} ${type}`));
    }, 3000);
    s.on('message', (b) => {
      clearTimeout(t);
      s.close();
      resolve(decodeReply(b));
    });
    s.send(encodeQuery(7, { name, type, class: 'IN' }, { udpSize: 1232 }), 53, listener);
  });
}
const datas = (r: ReturnType<typeof decodeReply>) =>
  (r.answers ?? []).map((a) => JSON.stringify((a as { data: unknown }).data)).sort();

before(async () => {
  if (skip) return;
  c = await startCluster({ agent: true });
  await waitForReadyNode(c);
  listener = await until(
    'the node to announce its DNS listener',
    async () => jsonpath(['nodes'], '{.items[0].metadata.annotations.k8ts\\.io/dns-listener}'),
    60_000,
    500,
  );
  // Services whose records need no running pod: a ClusterIP one, a headless one with a
  // hand-written EndpointSlice (a StatefulSet pod's hostname), and an ExternalName.
  await apply([
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'db' },
      spec: { clusterIP: 'None', ports: [{ name: 'mysql', port: 3306 }] },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'db-1', labels: { 'kubernetes.io/service-name': 'db' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [DB_IP], hostname: 'db-0', conditions: { ready: true } }],
      ports: [{ name: 'mysql', port: 3306, protocol: 'TCP' }],
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'ext' },
      spec: { type: 'ExternalName', externalName: 'db.default.svc.cluster.local' },
    },
  ]);
  webIP = await jsonpath(['service', 'web'], '{.spec.clusterIP}');
  // The harness gives each cluster a service range of its own: `kubernetes` has its 1st address,
  // the cluster DNS its 10th.
  kubernetesIP = await jsonpath(['service', 'kubernetes'], '{.spec.clusterIP}');
  clusterDNS = kubernetesIP.replace(/\d+$/, (last) => String(Number(last) + 9));
});

after(async () => {
  if (c) await c.cleanup();
});

test(
  'kube-system/kube-dns: the cluster DNS address, its ports, and the node listener as endpoint',
  { skip },
  async () => {
    const svc = JSON.parse(await c.k(['get', 'service', '-n', 'kube-system', 'kube-dns', '-o', 'json']));
    assert.equal(svc.spec.clusterIP, clusterDNS);
    assert.deepEqual(
      svc.spec.ports.map((p: { name: string; port: number; protocol: string }) => `${p.name} ${p.port}/${p.protocol}`),
      ['dns 53/UDP', 'dns-tcp 53/TCP', 'metrics 9153/TCP'],
    );
    assert.equal(svc.metadata.labels['k8s-app'], 'kube-dns');
    const podCIDR = await jsonpath(['nodes'], '{.items[0].spec.podCIDR}');
    assert.equal(listener, podCIDR.replace(/0\/\d+$/, '1'), 'the listener is the pod bridge gateway');
    await until(
      'the listener in the kube-dns endpoints',
      async () =>
        (await jsonpath(['endpoints', '-n', 'kube-system', 'kube-dns'], '{.subsets[0].addresses[0].ip}')) === listener,
      30_000,
    );
    await until(
      'the listener in the kube-dns EndpointSlice',
      async () =>
        (await jsonpath(['endpointslice', '-n', 'kube-system', 'kube-dns'], '{.endpoints[0].addresses[0]}')) ===
        listener,
      30_000,
    );
    assert.match(
      await c.k(['get', 'configmap', '-n', 'kube-system', 'coredns', '-o', 'jsonpath={.data.Corefile}']),
      /kubernetes cluster\.local/,
    );
  },
);

test('records asked from the host: A, SRV, headless hostname, ExternalName, PTR, NXDOMAIN', { skip }, async () => {
  assert.deepEqual(datas(await ask('web.default.svc.cluster.local', 'A')), [JSON.stringify(webIP)]);
  assert.deepEqual(datas(await ask('_http._tcp.web.default.svc.cluster.local', 'SRV')), [
    JSON.stringify({ priority: 0, weight: 100, port: 80, target: 'web.default.svc.cluster.local' }),
  ]);
  const dbIP = DB_IP;
  await until(
    'db-0.db to resolve',
    async () => datas(await ask('db-0.db.default.svc.cluster.local', 'A'))[0] === JSON.stringify(dbIP),
    30_000,
  );
  const ext = await ask('ext.default.svc.cluster.local', 'A');
  assert.deepEqual(datas(ext), [JSON.stringify(dbIP), JSON.stringify('db.default.svc.cluster.local')]);
  assert.deepEqual(datas(await ask(reverseName(webIP), 'PTR')), [JSON.stringify('web.default.svc.cluster.local')]);
  assert.deepEqual(datas(await ask('kubernetes.default.svc.cluster.local', 'A')), [JSON.stringify(kubernetesIP)]);
  const nx = await ask('nope.default.svc.cluster.local', 'A');
  assert.equal(nx.rcode, RCODE.NXDOMAIN);
  assert.equal(nx.authorities?.[0]?.type, 'SOA');
});

test(
  'a pod resolves through the node listener (nslookup), and its resolv.conf names the cluster DNS',
  { skip, timeout: 300_000 },
  async () => {
    await importTestImages(c, ['busybox']);
    await apply([
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'client' },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'c', image: 'k8ts.local/busybox:1.35', command: ['sleep', '3600'] }],
        },
      },
    ]);
    await c.k(['wait', '--for=condition=Ready', 'pod/client', '--timeout=240s']);
    const lookup = await c.kubectl(['exec', 'client', '--', 'nslookup', 'web.default.svc.cluster.local', listener]);
    if (lookup.code !== 0 || !lookup.stdout.includes(webIP))
      assert.fail(`nslookup from the pod: ${lookup.stdout}${lookup.stderr}\n${await podDNSDiagnosis(c, 'client')}`);
    const resolv = await c.k(['exec', 'client', '--', 'cat', '/etc/resolv.conf']);
    assert.match(resolv, new RegExp(`^nameserver ${clusterDNS.replaceAll('.', '\\.')}$`, 'm'));
    assert.match(resolv, /^search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local/m);
    assert.match(resolv, /^options ndots:5$/m);
  },
);

test(
  'short names through the pod resolv.conf and the kube-dns ClusterIP (the service proxy routes it)',
  { skip },
  async () => {
    // busybox's nslookup asks the name with every search suffix and exits 1 when any of them is
    // NXDOMAIN (web.svc.cluster.local is, rightly), even though the first one answered.
    const short = await c.kubectl(['exec', 'client', '--', 'nslookup', 'web']);
    assert.match(
      short.stdout,
      new RegExp(`Name:\\s+web\\.default\\.svc\\.cluster\\.local\\s+Address:\\s+${webIP.replaceAll('.', '\\.')}`),
      short.stdout + short.stderr,
    );
    const full = await c.kubectl(['exec', 'client', '--', 'nslookup', 'kubernetes.default.svc.cluster.local']);
    assert.match(
      full.stdout,
      new RegExp(
        `Name:\\s+kubernetes\\.default\\.svc\\.cluster\\.local\\s+Address:\\s+${kubernetesIP.replaceAll('.', '\\.')}`,
      ),
      full.stdout + full.stderr,
    );
    // busybox's own nslookup sends a name with a dot as it is (no search list), so
    // `nslookup kubernetes.default` is NXDOMAIN whatever the server; wget resolves through libc,
    // which walks the search list (ndots:5) as applications do.
    const wget = await c.kubectl(['exec', 'client', '--', 'wget', '-qO-', '-T', '5', 'http://kubernetes.default:443/']);
    // The API server answers TLS, not HTTP: what matters is that the name resolved.
    assert.doesNotMatch(wget.stderr, /bad address/, wget.stderr);
  },
);

test('a Corefile change is reloaded; a line it cannot use is reported in an event naming it', { skip }, async () => {
  const corefile = `.:53 {
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
      pods insecure
      fallthrough in-addr.arpa ip6.arpa
    }
    hosts {
      192.0.2.7 legacy.corp.example
      fallthrough
    }
    frobnicate everything
    prometheus :9153
    forward . /etc/resolv.conf
    cache 30
}
`;
  await c
    .k([
      'create',
      'configmap',
      'coredns',
      '-n',
      'kube-system',
      '--from-literal',
      `Corefile=${corefile}`,
      '--dry-run=client',
      '-o',
      'yaml',
    ])
    .then((y) => c.k(['apply', '-f', '-'], y));
  await until(
    'the hosts entry to resolve',
    async () => datas(await ask('legacy.corp.example', 'A'))[0] === JSON.stringify('192.0.2.7'),
    30_000,
  );
  await until(
    'a CorefileInvalid event',
    async () => {
      const ev = await c.k([
        'get',
        'events',
        '-n',
        'kube-system',
        '--field-selector',
        'reason=CorefileInvalid',
        '-o',
        'jsonpath={.items[*].message}',
      ]);
      return /line 11: frobnicate: unknown or unsupported plugin "frobnicate"/.test(ev);
    },
    30_000,
  );
  // Cluster names still answer.
  assert.deepEqual(datas(await ask('web.default.svc.cluster.local', 'A')), [JSON.stringify(webIP)]);
});

test('CoreDNS metrics on the listener at :9153', { skip }, async () => {
  const body = await (await fetch(`http://${listener}:9153/metrics`)).text();
  assert.match(body, /^coredns_dns_requests_total\{.*\} \d+/m);
  assert.match(body, /^coredns_dns_request_duration_seconds_bucket/m);
  assert.match(body, /coredns_cache_hits_total|coredns_cache_misses_total/);
  assert.equal((await fetch(`http://${listener}:9153/health`)).status, 200);
});

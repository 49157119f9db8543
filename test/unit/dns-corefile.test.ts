// The Corefile subset: what parses, which lines are reported, and the plugins it builds
// (stub domain blocks, rewrite, hosts, cache with the case of each question, autopath).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import { defaultCorefile, parseCorefile } from '../../src/dns/corefile.js';
import { buildConfig } from '../../src/dns/build.js';
import { handle } from '../../src/dns/server.js';
import { RCODE, type RecordType } from '../../src/dns/message.js';
import { staticView } from '../../src/dns/view.js';

const logger = pino({ level: 'silent' });

test('the default Corefile parses without problems', () => {
  const { blocks, problems } = parseCorefile(defaultCorefile('cluster.local'));
  assert.deepEqual(problems, []);
  assert.equal(blocks.length, 1);
  assert.deepEqual(blocks[0].kubernetes, {
    zones: ['cluster.local', 'in-addr.arpa', 'ip6.arpa'],
    pods: 'insecure',
    ttl: 5,
    endpointPodNames: false,
    fallthrough: ['in-addr.arpa', 'ip6.arpa'],
  });
  assert.equal(blocks[0].cache?.successTtl, 30);
  assert.deepEqual(blocks[0].transfer, { zones: ['cluster.local'], to: ['127.0.0.1'] });
});

test('lines it cannot use are reported by number; the rest still applies', () => {
  const { blocks, problems } = parseCorefile(`.:53 {
    errors
    kubernetes cluster.local {
      pods sometimes
    }
    frobnicate all
    rewrite type A AAAA
    cache abc {
      serve_stale forever
    }
    forward .
}
`);
  assert.deepEqual(
    problems.map((p) => `${p.line}: ${p.message}`),
    [
      '3: kubernetes: line 4: unsupported option "pods sometimes"',
      '6: frobnicate: unknown or unsupported plugin "frobnicate"',
      '7: rewrite: only "rewrite name ..." is supported',
      '8: cache: line 9: bad duration forever',
      '11: forward: want "forward FROM TO..."',
    ],
  );
  assert.equal(blocks[0].errors, true);
  assert.equal(blocks[0].kubernetes, undefined);
});

const ask = (
  handler: ReturnType<typeof buildConfig>['handler'],
  name: string,
  type: RecordType,
  remote = '10.42.0.50',
) =>
  handle(
    { current: handler },
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

const services: Service[] = [
  { metadata: { namespace: 'default', name: 'web' }, spec: { clusterIP: '10.43.0.20', ports: [{ port: 80 }] } },
];
const pods: Pod[] = [{ metadata: { namespace: 'default', name: 'client' }, status: { podIP: '10.42.0.50' } }];

test('stub domains, rewrite, hosts and the cache keep to their zones and names', async () => {
  const { blocks, problems } = parseCorefile(`. {
    rewrite name suffix .corp.internal .default.svc.cluster.local
    hosts {
      192.0.2.9 printer.lan
      fallthrough
    }
    kubernetes cluster.local
    cache 30
}
stub.example {
    hosts {
      198.51.100.1 www.stub.example
    }
}
`);
  assert.deepEqual(problems, []);
  const built = buildConfig(blocks, {
    view: staticView({ namespaces: ['default'], services }),
    logger,
    resolvConf: '',
    ownAddresses: [],
    hostSearch: [],
  });
  const web = await ask(built.handler, 'web.corp.internal', 'A');
  assert.deepEqual(
    web.answers.map((a) => [a.name, (a as { data: string }).data]),
    [['web.corp.internal', '10.43.0.20']],
  );
  assert.deepEqual(
    (await ask(built.handler, 'printer.lan', 'A')).answers.map((a) => (a as { data: string }).data),
    ['192.0.2.9'],
  );
  assert.deepEqual(
    (await ask(built.handler, 'WWW.stub.example', 'A')).answers.map((a) => [a.name, (a as { data: string }).data]),
    [['WWW.stub.example', '198.51.100.1']],
  );
  // Nothing forwards in this configuration: the end of the chain refuses.
  assert.equal((await ask(built.handler, 'elsewhere.example', 'A')).rcode, RCODE.REFUSED);
});

test('the cache answers each question with its own spelling of the name', async () => {
  const { blocks } = parseCorefile('. {\n cache 30\n hosts {\n  192.0.2.1 Mixed.example\n }\n}\n');
  const built = buildConfig(blocks, { view: staticView({}), logger, resolvConf: '', ownAddresses: [], hostSearch: [] });
  assert.equal((await ask(built.handler, 'mixed.example', 'A')).answers[0].name, 'mixed.example');
  assert.equal((await ask(built.handler, 'MIXED.EXAMPLE', 'A')).answers[0].name, 'MIXED.EXAMPLE');
});

test('autopath walks the search path of the asking pod on the server', async () => {
  const { blocks, problems } = parseCorefile(
    '. {\n autopath @kubernetes\n kubernetes cluster.local {\n  pods verified\n }\n hosts {\n  192.0.2.7 www.example.com\n }\n}\n',
  );
  assert.deepEqual(problems, []);
  const built = buildConfig(blocks, {
    view: staticView({ namespaces: ['default', 'other'], services, pods }),
    logger,
    resolvConf: '',
    ownAddresses: [],
    hostSearch: [],
  });
  assert.equal(built.needsPods, true);
  // The first name of the search path for www.example.com, from a pod in default.
  const r = await ask(built.handler, 'www.example.com.default.svc.cluster.local', 'A');
  assert.equal(r.rcode, RCODE.NOERROR);
  assert.deepEqual(
    r.answers.map((a) => `${a.type} ${(a as { data: string }).data}`),
    ['CNAME www.example.com', 'A 192.0.2.7'],
  );
  // The same question from an address that is no pod: answered as asked (NXDOMAIN).
  assert.equal(
    (await ask(built.handler, 'www.example.com.default.svc.cluster.local', 'A', '10.9.9.9')).rcode,
    RCODE.NXDOMAIN,
  );
});

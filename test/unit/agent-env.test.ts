import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Container, Pod, Service } from 'kubernetes-types/core/v1.js';
import { Client, R } from '../../src/client/client.js';
import {
  ContainerConfigError,
  containerEnv,
  expand,
  mappingFor,
  serviceEnv,
  type EnvContext,
} from '../../src/agent/env.js';
import { startTestApi, type TestApi } from './client-fixture.js';
import { inProcessClient } from '../../src/apiserver/inprocess.js';

test('expand: $(VAR), $$ escapes, unresolved and malformed references', () => {
  const m = mappingFor(
    new Map([
      ['A', 'a'],
      ['B', 'b'],
    ]),
  );
  assert.equal(expand('$(A)-$(B)', m), 'a-b');
  assert.equal(expand('$$(A)', m), '$(A)');
  assert.equal(expand('$$$(A)', m), '$a');
  assert.equal(expand('$(NOPE) stays', m), '$(NOPE) stays');
  assert.equal(expand('$(A', m), '$(A');
  assert.equal(expand('cost: $5 $', m), 'cost: $5 $');
  assert.equal(expand('$(A)$(A)', m), 'aa');
});

const svc = (ns: string, name: string, clusterIP: string, ports: any[]): Service => ({
  metadata: { namespace: ns, name },
  spec: { clusterIP, ports },
});
const services = [
  svc('default', 'kubernetes', '10.43.0.1', [{ name: 'https', port: 443, protocol: 'TCP' }]),
  svc('app', 'redis-master', '10.43.0.10', [{ port: 6379 }, { name: 'metrics', port: 9121, protocol: 'TCP' }]),
  svc('app', 'headless', 'None', [{ port: 80 }]),
  svc('other', 'elsewhere', '10.43.0.20', [{ port: 80 }]),
  svc('app', 'v6', 'fd00::5', [{ port: 53, protocol: 'UDP' }]),
];

test('service environment variables', () => {
  const env = serviceEnv(services, 'app', true);
  assert.equal(env.get('KUBERNETES_SERVICE_HOST'), '10.43.0.1');
  assert.equal(env.get('KUBERNETES_SERVICE_PORT'), '443');
  assert.equal(env.get('KUBERNETES_SERVICE_PORT_HTTPS'), '443');
  assert.equal(env.get('KUBERNETES_PORT'), 'tcp://10.43.0.1:443');
  assert.equal(env.get('KUBERNETES_PORT_443_TCP_ADDR'), '10.43.0.1');
  assert.equal(env.get('REDIS_MASTER_SERVICE_HOST'), '10.43.0.10');
  assert.equal(env.get('REDIS_MASTER_SERVICE_PORT'), '6379');
  assert.equal(env.get('REDIS_MASTER_SERVICE_PORT_METRICS'), '9121');
  assert.equal(env.get('REDIS_MASTER_PORT'), 'tcp://10.43.0.10:6379');
  assert.equal(env.get('REDIS_MASTER_PORT_6379_TCP'), 'tcp://10.43.0.10:6379');
  assert.equal(env.get('REDIS_MASTER_PORT_6379_TCP_PROTO'), 'tcp');
  assert.equal(env.get('REDIS_MASTER_PORT_6379_TCP_PORT'), '6379');
  assert.equal(env.get('REDIS_MASTER_PORT_9121_TCP_ADDR'), '10.43.0.10');
  assert.equal(env.get('V6_PORT_53_UDP'), 'udp://[fd00::5]:53');
  assert.equal(
    [...env.keys()].some((k) => k.startsWith('HEADLESS') || k.startsWith('ELSEWHERE')),
    false,
  );
  const off = serviceEnv(services, 'app', false);
  assert.deepEqual(
    [...off.keys()].filter((k) => !k.startsWith('KUBERNETES_')),
    [],
  );
  assert.equal(off.get('KUBERNETES_SERVICE_HOST'), '10.43.0.1');
});

describe('containerEnv', () => {
  let t: TestApi;
  let client: Client;
  let ctx: EnvContext;
  const ns = 'default';
  const warnings: string[] = [];
  const pod = (containers: Container[], extra: Partial<Pod['spec']> = {}): Pod => ({
    metadata: {
      name: 'web-0',
      namespace: ns,
      uid: 'uid-1',
      labels: { app: 'web' },
      annotations: { 'team.io/owner': 'me' },
    },
    spec: { nodeName: 'node1', serviceAccountName: 'sa1', containers, ...extra },
  });

  before(async () => {
    t = await startTestApi();
    client = inProcessClient(t.api, { fieldManager: 'test' });
    ctx = {
      client,
      nodeName: 'node1',
      hostIP: '192.168.1.5',
      hostIPs: ['192.168.1.5', 'fd00::1'],
      podIP: '10.42.0.7',
      podIPs: ['10.42.0.7', 'fd01::7'],
      nodeAllocatable: { cpu: '2', memory: '4Gi', 'ephemeral-storage': '10Gi' },
      onWarning: (reason, msg) => warnings.push(`${reason}: ${msg}`),
    };
    await client
      .resource(R.configmaps)
      .namespace(ns)
      .create({ metadata: { name: 'cfg' }, data: { LEVEL: 'debug', '1BAD': 'x', NAME: 'from-cm' } });
    await client
      .resource(R.secrets)
      .namespace(ns)
      .create({ metadata: { name: 'sec' }, data: { TOKEN: Buffer.from('t0k').toString('base64') } });
  });
  after(() => t.stop());

  test('ordering, envFrom prefix and invalid keys, expansion, key refs', async () => {
    const c: Container = {
      name: 'c',
      image: 'x',
      envFrom: [
        { configMapRef: { name: 'cfg' } },
        { prefix: 'S_', secretRef: { name: 'sec' } },
        { configMapRef: { name: 'absent', optional: true } },
      ],
      env: [
        { name: 'GREETING', value: 'hello $(NAME) at $(LEVEL), $$(LEVEL) and $(UNKNOWN)' },
        { name: 'NAME', value: 'override' },
        { name: 'USES_NEW', value: '$(NAME)' },
        { name: 'EMPTY' },
        { name: 'FROM_KEY', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'LEVEL' } } },
        { name: 'SECRET', valueFrom: { secretKeyRef: { name: 'sec', key: 'TOKEN' } } },
        { name: 'OPT_MISSING_KEY', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'nope', optional: true } } },
        { name: 'OPT_MISSING_CM', valueFrom: { secretKeyRef: { name: 'nope', key: 'k', optional: true } } },
        { name: 'SVC', value: '$(KUBERNETES_SERVICE_HOST)' },
        { name: 'KUBERNETES_SERVICE_PORT', value: 'mine' },
      ],
    };
    const env = await containerEnv(pod([c]), c, { ...ctx, services });
    const keys = env.map((e) => e.key);
    const get = (k: string) => env.find((e) => e.key === k)?.value;
    // envFrom keys first (in source order), then env, then service variables.
    assert.deepEqual(keys.slice(0, 8), [
      'LEVEL',
      'NAME',
      'S_TOKEN',
      'GREETING',
      'USES_NEW',
      'EMPTY',
      'FROM_KEY',
      'SECRET',
    ]);
    assert.equal(get('GREETING'), 'hello from-cm at debug, $(LEVEL) and $(UNKNOWN)');
    assert.equal(get('NAME'), 'override');
    assert.equal(get('USES_NEW'), 'override');
    assert.equal(get('EMPTY'), '');
    assert.equal(get('FROM_KEY'), 'debug');
    assert.equal(get('SECRET'), 't0k');
    assert.equal(get('S_TOKEN'), 't0k');
    assert.equal(get('1BAD'), undefined);
    assert.equal(keys.includes('OPT_MISSING_KEY') || keys.includes('OPT_MISSING_CM'), false);
    assert.equal(get('SVC'), '10.43.0.1');
    assert.equal(keys.filter((k) => k === 'KUBERNETES_SERVICE_PORT').length, 1);
    assert.equal(get('KUBERNETES_SERVICE_PORT'), 'mine');
    assert.ok(keys.indexOf('KUBERNETES_SERVICE_HOST') > keys.indexOf('SVC'));
    assert.deepEqual(warnings, [
      'InvalidEnvironmentVariableNames: Keys [1BAD] from the EnvFrom configMap default/cfg were skipped since they are considered invalid environment variable names.',
    ]);
  });

  test('errors carry upstream messages and CreateContainerConfigError', async () => {
    const cases: [Container['env'], Container['envFrom'], string][] = [
      [
        [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'gone', key: 'k' } } }],
        undefined,
        'configmap "gone" not found',
      ],
      [
        [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'k' } } }],
        undefined,
        "couldn't find key k in ConfigMap default/cfg",
      ],
      [
        [{ name: 'A', valueFrom: { secretKeyRef: { name: 'sec', key: 'k' } } }],
        undefined,
        "couldn't find key k in Secret default/sec",
      ],
      [undefined, [{ secretRef: { name: 'gone' } }], 'secret "gone" not found'],
      [
        [{ name: 'A', valueFrom: { resourceFieldRef: { resource: 'limits.gpu' } } }],
        undefined,
        'unsupported container resource : limits.gpu',
      ],
    ];
    for (const [env, envFrom, msg] of cases) {
      const c: Container = { name: 'c', image: 'x', env, envFrom };
      await assert.rejects(containerEnv(pod([c]), c, ctx), (e: unknown) => {
        assert.ok(e instanceof ContainerConfigError);
        assert.equal(e.reason, 'CreateContainerConfigError');
        assert.equal(e.message, msg);
        return true;
      });
    }
  });

  test('fieldRef and resourceFieldRef', async () => {
    const f = (fieldPath: string) => ({ valueFrom: { fieldRef: { fieldPath } } });
    const r = (resource: string, divisor?: string, containerName?: string) => ({
      valueFrom: { resourceFieldRef: { resource, divisor, containerName } },
    });
    const c: Container = {
      name: 'c',
      image: 'x',
      resources: { limits: { cpu: '250m' }, requests: { cpu: '100m', memory: '64Mi' } },
      env: [
        { name: 'NAME', ...f('metadata.name') },
        { name: 'NS', ...f('metadata.namespace') },
        { name: 'UID', ...f('metadata.uid') },
        { name: 'APP', ...f("metadata.labels['app']") },
        { name: 'OWNER', ...f("metadata.annotations['team.io/owner']") },
        { name: 'LABELS', ...f('metadata.labels') },
        { name: 'NODE', ...f('spec.nodeName') },
        { name: 'SA', ...f('spec.serviceAccountName') },
        { name: 'HOST_IP', ...f('status.hostIP') },
        { name: 'HOST_IPS', ...f('status.hostIPs') },
        { name: 'POD_IP', ...f('status.podIP') },
        { name: 'POD_IPS', ...f('status.podIPs') },
        { name: 'CPU_LIMIT', ...r('limits.cpu') },
        { name: 'CPU_LIMIT_M', ...r('limits.cpu', '1m') },
        { name: 'CPU_REQ_M', ...r('requests.cpu', '1m') },
        { name: 'MEM_LIMIT_MI', ...r('limits.memory', '1Mi') },
        { name: 'MEM_REQ', ...r('requests.memory') },
        { name: 'SIDE_MEM', ...r('limits.memory', '1Mi', 'side') },
      ],
    };
    const side: Container = { name: 'side', image: 'x', resources: { limits: { memory: '1G' } } };
    const env = Object.fromEntries((await containerEnv(pod([c, side]), c, ctx)).map((e) => [e.key, e.value]));
    assert.deepEqual(env, {
      NAME: 'web-0',
      NS: 'default',
      UID: 'uid-1',
      APP: 'web',
      OWNER: 'me',
      LABELS: 'app="web"',
      NODE: 'node1',
      SA: 'sa1',
      HOST_IP: '192.168.1.5',
      HOST_IPS: '192.168.1.5,fd00::1',
      POD_IP: '10.42.0.7',
      POD_IPS: '10.42.0.7,fd01::7',
      CPU_LIMIT: '1',
      CPU_LIMIT_M: '250',
      CPU_REQ_M: '100',
      MEM_LIMIT_MI: '4096',
      MEM_REQ: String(64 * 1024 * 1024),
      SIDE_MEM: '954',
    });
  });
});

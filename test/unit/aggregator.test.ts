// API aggregation pieces that need no server: APIService validation (upstream's messages), the
// front-proxy identity headers (client-go's SetAuthProxyHeaders), legacy → aggregated discovery
// conversion, and discovery's merge of remote groups ordered by groupPriorityMinimum.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateAPIService, type APIService } from '../../src/api/apiregistration/v1/index.js';
import { formatFieldError } from '../../src/machinery/fielderrors.js';
import { identityHeaders, isIdentityHeader, remoteOf } from '../../src/apiserver/aggregator/remote.js';
import { RemoteDiscovery, toAggregated } from '../../src/apiserver/aggregator/discovery.js';
import { Discovery } from '../../src/apiserver/discovery.js';
import { ResourceRegistry } from '../../src/apiserver/resources.js';
import { builtinResources } from '../../src/api/builtin.js';

const apiService = (
  spec: Partial<NonNullable<APIService['spec']>>,
  name = 'v1alpha1.wardle.example.com',
): APIService => ({
  metadata: { name },
  spec: { group: 'wardle.example.com', version: 'v1alpha1', groupPriorityMinimum: 1000, versionPriority: 15, ...spec },
});

const messages = (o: APIService) => validateAPIService(o).map(formatFieldError);

test('a remote APIService validates; its port defaults are read as 443', () => {
  const o = apiService({ service: { namespace: 'wardle', name: 'api' } });
  assert.deepEqual(messages(o), []);
  assert.equal(remoteOf(o)?.port, 443);
});

test('APIService validation: the name, priorities, TLS settings, as upstream words them', () => {
  assert.deepEqual(messages(apiService({}, 'wrong')), [
    'metadata.name: Invalid value: "wrong": must be `spec.version+"."+spec.group`: "v1alpha1.wardle.example.com"',
  ]);
  assert.deepEqual(messages(apiService({ groupPriorityMinimum: 0, versionPriority: 1001 })), [
    'spec.groupPriorityMinimum: Invalid value: 0: must be positive and less than 20000',
    'spec.versionPriority: Invalid value: 1001: must be positive and less than 1000',
  ]);
  assert.deepEqual(
    messages(apiService({ caBundle: Buffer.from('pem').toString('base64'), insecureSkipTLSVerify: true })),
    [
      'spec.caBundle: Invalid value: "3 bytes": local APIServices may not have a caBundle',
      'spec.insecureSkipTLSVerify: Invalid value: true: local APIServices may not have insecureSkipTLSVerify',
    ],
  );
  assert.deepEqual(
    messages(
      apiService({
        service: { namespace: 'wardle', name: 'api', port: 70000 },
        caBundle: Buffer.from('pem').toString('base64'),
        insecureSkipTLSVerify: true,
      }),
    ),
    [
      'spec.service.port: Invalid value: 70000: port is not valid: must be between 1 and 65535, inclusive',
      'spec.insecureSkipTLSVerify: Invalid value: true: may not be true if caBundle is present',
    ],
  );
  assert.deepEqual(messages(apiService({ group: '' }, 'v1alpha1.')), [
    'spec.group: Required value: only v1 may have an empty group and it better be legacy kube',
  ]);
});

test('identity headers: user, each group, extras with their keys escaped as client-go does', () => {
  assert.deepEqual(
    identityHeaders({
      name: 'jane',
      groups: ['a', 'system:authenticated'],
      extra: { 'example.com/scopes': ['x', 'y'], 'with space%': ['z'] },
    }),
    [
      ['X-Remote-User', 'jane'],
      ['X-Remote-Group', 'a'],
      ['X-Remote-Group', 'system:authenticated'],
      ['X-Remote-Extra-example.com%2Fscopes', 'x'],
      ['X-Remote-Extra-example.com%2Fscopes', 'y'],
      ['X-Remote-Extra-with%20space%25', 'z'],
    ],
  );
  for (const h of ['X-Remote-User', 'x-remote-group', 'X-Remote-Extra-foo', 'x-remote-uid'])
    assert.ok(isIdentityHeader(h), h);
  assert.ok(!isIdentityHeader('X-Remote-Something'));
});

test('legacy resources convert to aggregated ones, subresources under their parent', () => {
  assert.deepEqual(
    toAggregated('wardle.example.com', 'v1alpha1', [
      {
        name: 'flunders',
        singularName: 'flunder',
        namespaced: true,
        kind: 'Flunder',
        verbs: ['get', 'list'],
        shortNames: ['fl'],
      },
      { name: 'flunders/status', singularName: '', namespaced: true, kind: 'Flunder', verbs: ['get', 'update'] },
      {
        name: 'flunders/scale',
        singularName: '',
        namespaced: true,
        kind: 'Scale',
        group: 'autoscaling',
        version: 'v1',
        verbs: ['get'],
      },
    ]),
    [
      {
        resource: 'flunders',
        responseKind: { group: 'wardle.example.com', version: 'v1alpha1', kind: 'Flunder' },
        scope: 'Namespaced',
        singularResource: 'flunder',
        verbs: ['get', 'list'],
        shortNames: ['fl'],
        subresources: [
          {
            subresource: 'status',
            responseKind: { group: 'wardle.example.com', version: 'v1alpha1', kind: 'Flunder' },
            verbs: ['get', 'update'],
          },
          {
            subresource: 'scale',
            responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' },
            verbs: ['get'],
          },
        ],
      },
    ],
  );
});

test('discovery: remote groups are merged and every group ordered by priority, then name', () => {
  const registry = new ResourceRegistry();
  for (const def of builtinResources()) registry.add(def);
  const discovery = new Discovery(
    registry,
    () => [],
    () => '127.0.0.1:6443',
  );
  const remotes = [
    remoteOf(apiService({ service: { namespace: 'w', name: 'api' }, groupPriorityMinimum: 18500 }))!,
    remoteOf(
      apiService(
        {
          service: { namespace: 'w', name: 'api' },
          version: 'v1beta1',
          groupPriorityMinimum: 200,
          versionPriority: 20,
        },
        'v1beta1.wardle.example.com',
      ),
    )!,
  ];
  const extra = new RemoteDiscovery(() => remotes);
  discovery.extra = extra;
  const groups = (JSON.parse(discovery.groupList()) as { groups: { name: string; versions: { version: string }[] }[] })
    .groups;
  // The highest groupPriorityMinimum of its APIServices puts it first (above apiregistration's 18000).
  assert.equal(groups[0].name, 'wardle.example.com');
  // versionPriority orders its versions: v1beta1 (20) before v1alpha1 (15).
  assert.deepEqual(
    groups[0].versions.map((v) => v.version),
    ['v1beta1', 'v1alpha1'],
  );
  assert.equal(groups.at(-1)!.name, 'metrics.k8s.io');
  const agg = JSON.parse(discovery.aggregated(false, 'v2')) as {
    items: { metadata: { name: string }; versions: { version: string; freshness: string }[] }[];
  };
  const wardle = agg.items.find((i) => i.metadata.name === 'wardle.example.com')!;
  // Never read from the server yet: listed, without resources, Stale.
  assert.deepEqual(
    wardle.versions.map((v) => [v.version, v.freshness]),
    [
      ['v1beta1', 'Stale'],
      ['v1alpha1', 'Stale'],
    ],
  );
  extra.update(remotes[0], {
    status: 200,
    contentType: 'application/json',
    body: Buffer.from(
      JSON.stringify({
        kind: 'APIResourceList',
        groupVersion: 'wardle.example.com/v1alpha1',
        resources: [{ name: 'flunders', singularName: 'flunder', namespaced: true, kind: 'Flunder', verbs: ['list'] }],
      }),
    ),
  });
  const again = JSON.parse(discovery.aggregated(false, 'v2')) as {
    items: {
      metadata: { name: string };
      versions: { version: string; freshness: string; resources: { resource: string }[] }[];
    }[];
  };
  const v1alpha1 = again.items.find((i) => i.metadata.name === 'wardle.example.com')!.versions[1];
  assert.equal(v1alpha1.freshness, 'Current');
  assert.deepEqual(
    v1alpha1.resources.map((r) => r.resource),
    ['flunders'],
  );
});

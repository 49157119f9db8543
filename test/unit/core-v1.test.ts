import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StrategyContext, ResourceDef } from '../../src/api/types.js';
import { formatFieldError, type FieldError } from '../../src/machinery/fielderrors.js';
import {
  resources,
  pods,
  services,
  secrets,
  configMaps,
  namespaces,
  nodes,
  events,
  replicationControllers,
  persistentVolumeClaims,
  podTemplates,
} from '../../src/api/core/v1/index.js';
import { computeQOSClass } from '../../src/api/core/v1/pod.js';

function fakeCtx(operation: 'create' | 'update' | 'delete' = 'create', subresource?: string) {
  let nextIP = 10;
  let nextPort = 30000;
  const ips = new Set<string>();
  const ports = new Set<number>();
  const ctx: StrategyContext & { ips: Set<string>; ports: Set<number> } = {
    operation,
    subresource,
    cluster: { serviceCIDR: '10.43.0.0/16', nodePortRange: [30000, 32767], clusterDomain: 'cluster.local' },
    warnings: [],
    ips,
    ports,
    allocators: {
      clusterIP(requested) {
        const ip = requested ?? `10.43.0.${nextIP++}`;
        if (ips.has(ip)) throw new Error(`provided IP is already allocated: ${ip}`);
        ips.add(ip);
        return ip;
      },
      releaseClusterIP(ip) {
        ips.delete(ip);
      },
      nodePort(requested) {
        const p = requested ?? nextPort++;
        if (ports.has(p)) throw new Error(`provided port is already allocated: ${p}`);
        ports.add(p);
        return p;
      },
      releaseNodePort(p) {
        ports.delete(p);
      },
    },
  };
  return ctx;
}

const lines = (errs: FieldError[]) => errs.map(formatFieldError);

/** Run the create flow the API layer runs: defaults, prepareForCreate, validate. */
function create(def: ResourceDef, obj: any, ctx = fakeCtx('create')) {
  def.defaults?.(obj);
  def.prepareForCreate?.(obj, ctx);
  return { obj, errs: def.validate?.(obj, ctx) ?? [], ctx };
}

function update(def: ResourceDef, obj: any, old: any, ctx = fakeCtx('update')) {
  def.defaults?.(obj);
  def.prepareForUpdate?.(obj, old, ctx);
  return { obj, errs: [...(def.validate?.(obj, ctx) ?? []), ...(def.validateUpdate?.(obj, old, ctx) ?? [])] };
}

const minimalPod = () => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'default' },
  spec: { containers: [{ name: 'c', image: 'nginx' }] },
});

test('resources: 16 core/v1 definitions with upstream names', () => {
  const byPlural = new Map(resources.map((r) => [r.plural, r]));
  assert.equal(resources.length, 16);
  assert.deepEqual(byPlural.get('componentstatuses')!.shortNames, ['cs']);
  assert.deepEqual(byPlural.get('pods')!.categories, ['all']);
  assert.deepEqual(byPlural.get('services')!.shortNames, ['svc']);
  assert.equal(byPlural.get('services')!.nameRule, 'rfc1035-label');
  assert.equal(byPlural.get('namespaces')!.nameRule, 'dns1123-label');
  assert.equal(byPlural.get('namespaces')!.namespaced, false);
  assert.ok(!byPlural.get('namespaces')!.verbs!.includes('deletecollection'));
  assert.equal(byPlural.get('replicationcontrollers')!.subresources!.scale!.specReplicasPath, '.spec.replicas');
  for (const r of resources) assert.equal(r.group, '');
});

test('pod defaults', () => {
  const { obj, errs } = create(pods, minimalPod());
  assert.deepEqual(errs, []);
  const s = obj.spec;
  assert.equal(s.restartPolicy, 'Always');
  assert.equal(s.dnsPolicy, 'ClusterFirst');
  assert.equal(s.terminationGracePeriodSeconds, 30);
  assert.equal(s.schedulerName, 'default-scheduler');
  assert.deepEqual(s.securityContext, {});
  assert.equal(s.enableServiceLinks, true);
  assert.equal(s.serviceAccountName, 'default');
  assert.equal(s.priority, 0);
  assert.equal(s.preemptionPolicy, 'PreemptLowerPriority');
  const c = s.containers[0];
  assert.equal(c.imagePullPolicy, 'Always');
  assert.equal(c.terminationMessagePath, '/dev/termination-log');
  assert.equal(c.terminationMessagePolicy, 'File');
  assert.deepEqual(obj.status, { phase: 'Pending', qosClass: 'BestEffort' });
});

test('pod defaults: pull policy, ports, probes, volumes, requests from limits', () => {
  const pod: any = minimalPod();
  pod.spec.containers = [
    {
      name: 'a',
      image: 'nginx:1.25',
      ports: [{ containerPort: 80 }],
      livenessProbe: { httpGet: { port: 80 } },
      resources: { limits: { cpu: '1', memory: '1Gi' } },
      volumeMounts: [{ name: 'v', mountPath: '/v' }],
    },
    { name: 'b', image: 'reg:5000/x:latest' },
    { name: 'c', image: 'reg:5000/x' },
    { name: 'd', image: 'x@sha256:abc' },
  ];
  pod.spec.volumes = [
    { name: 'v' },
    { name: 'cm', configMap: { name: 'x' } },
    { name: 's', secret: { secretName: 'x' } },
  ];
  const { obj, errs } = create(pods, pod);
  assert.deepEqual(errs, []);
  const [a, b, c, d] = obj.spec.containers;
  assert.equal(a.imagePullPolicy, 'IfNotPresent');
  assert.equal(b.imagePullPolicy, 'Always');
  assert.equal(c.imagePullPolicy, 'Always');
  assert.equal(d.imagePullPolicy, 'IfNotPresent');
  assert.equal(a.ports[0].protocol, 'TCP');
  assert.deepEqual(a.livenessProbe, {
    httpGet: { port: 80, path: '/', scheme: 'HTTP' },
    timeoutSeconds: 1,
    periodSeconds: 10,
    successThreshold: 1,
    failureThreshold: 3,
  });
  assert.deepEqual(a.resources.requests, { cpu: '1', memory: '1Gi' });
  assert.deepEqual(obj.spec.volumes[0].emptyDir, {});
  assert.equal(obj.spec.volumes[1].configMap.defaultMode, 420);
  assert.equal(obj.spec.volumes[2].secret.defaultMode, 420);
  assert.equal(obj.status.qosClass, 'Burstable');
});

test('pod QoS classes', () => {
  const q = (res: any[]) =>
    computeQOSClass({ spec: { containers: res.map((r, i) => ({ name: `c${i}`, image: 'x', resources: r })) } });
  assert.equal(q([{}]), 'BestEffort');
  assert.equal(q([{ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1000m', memory: '1Gi' } }]), 'Guaranteed');
  assert.equal(q([{ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '500m', memory: '1Gi' } }]), 'Burstable');
  assert.equal(q([{ requests: { cpu: '100m' } }]), 'Burstable');
  assert.equal(q([{ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1', memory: '1Gi' } }, {}]), 'Burstable');
});

test('pod validation errors', () => {
  const cases: Array<[any, string[]]> = [
    [{ containers: [] }, ['spec.containers: Required value']],
    [{ containers: [{ name: 'c' }] }, ['spec.containers[0].image: Required value']],
    [
      {
        containers: [
          { name: 'c', image: 'x' },
          { name: 'c', image: 'y' },
        ],
      },
      ['spec.containers[1].name: Duplicate value: "c"'],
    ],
    [
      { containers: [{ name: 'c', image: 'x' }], initContainers: [{ name: 'c', image: 'y' }] },
      ['spec.initContainers[0].name: Duplicate value: "c"'],
    ],
    [
      { containers: [{ name: 'c', image: 'x', volumeMounts: [{ name: 'nope', mountPath: '/x' }] }] },
      ['spec.containers[0].volumeMounts[0].name: Not found: "nope"'],
    ],
    [
      {
        containers: [{ name: 'c', image: 'x' }],
        volumes: [
          { name: 'v', emptyDir: {} },
          { name: 'v', emptyDir: {} },
        ],
      },
      ['spec.volumes[1].name: Duplicate value: "v"'],
    ],
    [
      { containers: [{ name: 'c', image: 'x' }], restartPolicy: 'Sometimes' },
      ['spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"'],
    ],
    [
      { containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 70000 }] }] },
      ['spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive'],
    ],
    [
      { containers: [{ name: 'c', image: 'x', resources: { requests: { cpu: '2' }, limits: { cpu: '1' } } }] },
      ['spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1'],
    ],
    [
      { containers: [{ name: 'c', image: 'x', livenessProbe: { exec: { command: ['true'] }, successThreshold: 2 } }] },
      ['spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1'],
    ],
    [
      {
        containers: [
          {
            name: 'c',
            image: 'x',
            env: [{ name: 'A', value: 'x', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
          },
        ],
      },
      ['spec.containers[0].env[0].valueFrom: Invalid value: "": may not be specified when `value` is not empty'],
    ],
    [
      { containers: [{ name: 'c', image: 'x' }], dnsPolicy: 'None' },
      ['spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None'],
    ],
    [
      { containers: [{ name: 'c', image: 'x' }], tolerations: [{ key: 'k', operator: 'Exists', value: 'v' }] },
      [
        `spec.tolerations[0].operator: Invalid value: {"key":"k","operator":"Exists","value":"v"}: value must be empty when \`operator\` is 'Exists'`,
      ],
    ],
  ];
  for (const [spec, want] of cases) {
    const pod: any = { metadata: { name: 'p', namespace: 'default' }, spec };
    const { errs } = create(pods, pod);
    for (const w of want) assert.ok(lines(errs).includes(w), `want ${w}\ngot ${JSON.stringify(lines(errs), null, 1)}`);
  }
  // Bad container name: DNS-1123 label message from the shared helper.
  const { errs } = create(pods, { metadata: { name: 'p' }, spec: { containers: [{ name: 'Bad_Name', image: 'x' }] } });
  assert.ok(errs.some((e) => e.field === 'spec.containers[0].name' && e.type === 'FieldValueInvalid'));
});

test('pod update: only image, activeDeadlineSeconds, tolerations may change', () => {
  const { obj: old } = create(pods, minimalPod());
  // Clients send back the object they read, with the change.
  const img: any = structuredClone(old);
  img.spec.containers[0].image = 'nginx:2';
  assert.deepEqual(update(pods, img, old).errs, []);

  const bad: any = structuredClone(old);
  bad.spec.restartPolicy = 'Never';
  const errs = update(pods, bad, old).errs;
  assert.equal(errs.length, 1);
  assert.equal(errs[0].field, 'spec');
  assert.match(errs[0].detail, /- restartPolicy: "Always"\n.*\+ restartPolicy: "Never"/);
  assert.match(
    errs[0].detail,
    /^Forbidden: pod updates may not change fields other than `spec.containers\[\*\].image`,`spec.initContainers\[\*\].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` \(only additions to existing tolerations\),`spec.terminationGracePeriodSeconds` \(allow it to be set to 1 if it was previously negative\)/,
  );

  const more: any = structuredClone(old);
  more.spec.containers.push({ name: 'd', image: 'x' });
  assert.deepEqual(lines(update(pods, more, old).errs), [
    'spec.containers: Forbidden: pod updates may not add or remove containers',
  ]);

  // Status is kept from the old object on a main-resource update.
  const st: any = structuredClone(old);
  st.status = { phase: 'Running' };
  assert.equal(update(pods, st, old).obj.status.phase, 'Pending');
});

test('pod graceful delete and field selectors', () => {
  const { obj } = create(pods, minimalPod());
  assert.equal(pods.gracefulDelete!(obj, undefined), 0, 'unscheduled pods go at once');
  obj.spec.nodeName = 'n1';
  assert.equal(pods.gracefulDelete!(obj, undefined), 30);
  assert.equal(pods.gracefulDelete!(obj, 5), 5);
  obj.status.phase = 'Succeeded';
  assert.equal(pods.gracefulDelete!(obj, undefined), 0);
  const fs = pods.fieldSelectors!;
  assert.equal(fs['spec.nodeName'](obj), 'n1');
  assert.equal(fs['status.phase'](obj), 'Succeeded');
  assert.equal(fs['spec.hostNetwork'](obj), 'false');
  assert.equal(fs['spec.restartPolicy'](obj), 'Always');
  assert.equal(fs['status.podIP'](obj), '');
  for (const k of ['spec.schedulerName', 'spec.serviceAccountName', 'status.podIPs', 'status.nominatedNodeName'])
    assert.ok(k in fs);
});

test('service defaults and allocation', () => {
  const ctx = fakeCtx();
  const svc: any = {
    metadata: { name: 's', namespace: 'default' },
    spec: { selector: { app: 'x' }, ports: [{ port: 80 }] },
  };
  const { obj, errs } = create(services, svc, ctx);
  assert.deepEqual(errs, []);
  const s = obj.spec;
  assert.equal(s.type, 'ClusterIP');
  assert.equal(s.sessionAffinity, 'None');
  assert.equal(s.internalTrafficPolicy, 'Cluster');
  assert.equal(s.externalTrafficPolicy, undefined);
  assert.deepEqual(s.ports, [{ port: 80, protocol: 'TCP', targetPort: 80 }]);
  assert.equal(s.clusterIP, '10.43.0.10');
  assert.deepEqual(s.clusterIPs, ['10.43.0.10']);
  assert.deepEqual(s.ipFamilies, ['IPv4']);
  assert.equal(s.ipFamilyPolicy, 'SingleStack');
  assert.deepEqual(obj.status, { loadBalancer: {} });

  const np: any = {
    metadata: { name: 'n' },
    spec: {
      type: 'NodePort',
      ports: [
        { name: 'a', port: 80 },
        { name: 'b', port: 81, nodePort: 31000 },
      ],
    },
  };
  const r = create(services, np, ctx);
  assert.deepEqual(r.errs, []);
  assert.equal(r.obj.spec.externalTrafficPolicy, 'Cluster');
  assert.equal(r.obj.spec.ports[0].nodePort, 30000);
  assert.equal(r.obj.spec.ports[1].nodePort, 31000);
  services.afterDelete!(r.obj, ctx);
  assert.ok(!ctx.ports.has(31000) && !ctx.ports.has(30000) && !ctx.ips.has(r.obj.spec.clusterIP));

  const headless = create(
    services,
    { metadata: { name: 'h' }, spec: { clusterIP: 'None', selector: { a: 'b' } } },
    ctx,
  );
  assert.deepEqual(headless.errs, []);
  assert.deepEqual(headless.obj.spec.clusterIPs, ['None']);
});

test('service validation errors', () => {
  const errsOf = (spec: any) => lines(create(services, { metadata: { name: 's' }, spec }).errs);
  assert.deepEqual(errsOf({ type: 'ExternalName' }), ['spec.externalName: Required value']);
  assert.deepEqual(errsOf({ selector: { a: 'b' } }), ['spec.ports: Required value']);
  assert.deepEqual(errsOf({ ports: [{ port: 80 }, { port: 81 }] }), [
    'spec.ports[0].name: Required value',
    'spec.ports[1].name: Required value',
  ]);
  assert.deepEqual(errsOf({ type: 'Weird', ports: [{ port: 80 }] }), [
    'spec.type: Unsupported value: "Weird": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
  ]);
  assert.deepEqual(errsOf({ ports: [{ port: 80, nodePort: 30001 }] }), [
    "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
  ]);
  assert.deepEqual(errsOf({ type: 'NodePort', clusterIP: 'None', ports: [{ port: 80 }] }), [
    'spec.clusterIPs[0]: Invalid value: "None": may not be set to \'None\' for NodePort services',
  ]);
});

test('service update: clusterIP may not change; allocated values carried over', () => {
  const ctx = fakeCtx();
  const { obj: old } = create(
    services,
    { metadata: { name: 's' }, spec: { type: 'NodePort', ports: [{ port: 80 }] } },
    ctx,
  );
  // A client that sends neither clusterIP nor nodePort keeps the allocated ones.
  const { obj, errs } = update(
    services,
    { metadata: { name: 's' }, spec: { type: 'NodePort', ports: [{ port: 80 }] } },
    old,
    fakeCtx('update'),
  );
  assert.deepEqual(errs, []);
  assert.equal(obj.spec.clusterIP, old.spec.clusterIP);
  assert.equal(obj.spec.ports[0].nodePort, old.spec.ports[0].nodePort);
  const changed = update(
    services,
    {
      metadata: { name: 's' },
      spec: { ...structuredClone(old.spec), clusterIP: '10.43.0.99', clusterIPs: ['10.43.0.99'] },
    },
    old,
  );
  assert.deepEqual(lines(changed.errs), ['spec.clusterIPs[0]: Invalid value: ["10.43.0.99"]: may not change once set']);
  // NodePort -> ClusterIP drops the node ports and releases them.
  const uctx = fakeCtx('update');
  uctx.ports.add(old.spec.ports[0].nodePort);
  const down = update(
    services,
    { metadata: { name: 's' }, spec: { ...structuredClone(old.spec), type: 'ClusterIP' } },
    old,
    uctx,
  );
  assert.deepEqual(down.errs, []);
  assert.equal(down.obj.spec.ports[0].nodePort, undefined);
  assert.equal(down.obj.spec.externalTrafficPolicy, undefined);
  assert.ok(!uctx.ports.has(old.spec.ports[0].nodePort));
  assert.equal(services.fieldSelectors!['spec.type'](down.obj), 'ClusterIP');
});

test('secret defaults, type rules and immutability', () => {
  const { obj, errs } = create(secrets, {
    metadata: { name: 's' },
    stringData: { user: 'admin' },
    data: { a: 'eA==' },
  });
  assert.deepEqual(errs, []);
  assert.equal(obj.type, 'Opaque');
  assert.equal(obj.stringData, undefined);
  assert.deepEqual(obj.data, { a: 'eA==', user: Buffer.from('admin').toString('base64') });

  const errsOf = (o: any) => lines(create(secrets, { metadata: { name: 's' }, ...o }).errs);
  assert.deepEqual(errsOf({ type: 'kubernetes.io/tls', data: {} }), [
    'data[tls.crt]: Required value',
    'data[tls.key]: Required value',
  ]);
  assert.deepEqual(errsOf({ type: 'kubernetes.io/service-account-token' }), [
    'metadata.annotations[kubernetes.io/service-account.name]: Required value',
  ]);
  assert.deepEqual(errsOf({ type: 'kubernetes.io/dockerconfigjson', data: {} }), [
    'data[.dockerconfigjson]: Required value',
  ]);
  assert.deepEqual(errsOf({ type: 'kubernetes.io/basic-auth', data: {} }), [
    'data[username]: Required value',
    'data[password]: Required value',
  ]);
  assert.deepEqual(errsOf({ type: 'kubernetes.io/ssh-auth', data: {} }), ['data[ssh-privatekey]: Required value']);
  assert.deepEqual(errsOf({ data: { 'bad key': 'eA==' } }).length, 1);

  const t = update(
    secrets,
    { metadata: { name: 's' }, type: 'kubernetes.io/tls', data: { 'tls.crt': '', 'tls.key': '' } },
    obj,
  );
  assert.deepEqual(lines(t.errs), ['type: Invalid value: "kubernetes.io/tls": field is immutable']);
  const frozen = { ...structuredClone(obj), immutable: true };
  const u = update(secrets, { metadata: { name: 's' }, immutable: true, data: { a: 'eQ==' } }, frozen);
  assert.deepEqual(lines(u.errs), ['data: Forbidden: field is immutable when `immutable` is set']);
  assert.equal(secrets.fieldSelectors!.type(obj), 'Opaque');
});

test('configmap validation and immutability', () => {
  const errsOf = (o: any) => lines(create(configMaps, { metadata: { name: 'c' }, ...o }).errs);
  assert.deepEqual(errsOf({ data: { a: '1' }, binaryData: { a: 'eA==' } }), [
    'data[a]: Invalid value: "a": duplicate of key present in binaryData',
  ]);
  assert.deepEqual(errsOf({ data: { big: 'x'.repeat(1024 * 1024 + 1) } }), [
    ': Too long: may not be more than 1048576 bytes'.replace(/^: /, ''),
  ]);
  const old = { metadata: { name: 'c' }, data: { a: '1' }, immutable: true };
  assert.deepEqual(lines(update(configMaps, { metadata: { name: 'c' }, data: { a: '2' } }, old).errs), [
    'immutable: Forbidden: field is immutable when `immutable` is set',
    'data: Forbidden: field is immutable when `immutable` is set',
  ]);
});

test('namespace: finalizer, phase, name label, field selector', () => {
  const { obj, errs } = create(namespaces, { metadata: { name: 'team-a' } });
  assert.deepEqual(errs, []);
  assert.deepEqual(obj.spec.finalizers, ['kubernetes']);
  assert.equal(obj.status.phase, 'Active');
  assert.equal(obj.metadata.labels['kubernetes.io/metadata.name'], 'team-a');
  assert.equal(namespaces.fieldSelectors!['status.phase'](obj), 'Active');
});

test('node taints and podCIDR immutability', () => {
  const { errs } = create(nodes, { metadata: { name: 'n' }, spec: { taints: [{ key: 'k', effect: 'Sometimes' }] } });
  assert.deepEqual(lines(errs), [
    'metadata.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"',
  ]);
  const old = { metadata: { name: 'n' }, spec: { podCIDR: '10.42.0.0/24', podCIDRs: ['10.42.0.0/24'] } };
  const u = update(nodes, { metadata: { name: 'n' }, spec: { podCIDR: '10.42.1.0/24' } }, old);
  assert.deepEqual(lines(u.errs), [
    'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid',
  ]);
  assert.equal(nodes.fieldSelectors!['spec.unschedulable']({ spec: { unschedulable: true } }), 'true');
});

test('event namespace rule and field selectors', () => {
  const ev = {
    metadata: { name: 'e', namespace: 'default' },
    involvedObject: { kind: 'Pod', name: 'p', namespace: 'other' },
    reason: 'Started',
    source: { component: 'kubelet' },
    type: 'Normal',
  };
  assert.deepEqual(lines(create(events, structuredClone(ev)).errs), [
    'involvedObject.namespace: Invalid value: "other": does not match event.namespace',
  ]);
  const fs = events.fieldSelectors!;
  assert.equal(fs['involvedObject.kind'](ev), 'Pod');
  assert.equal(fs.source(ev), 'kubelet');
  assert.equal(fs.reason(ev), 'Started');
});

test('replication controller defaults, validation and scale selector', () => {
  const rc: any = {
    metadata: { name: 'r' },
    spec: { template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } },
  };
  const { obj, errs } = create(replicationControllers, rc);
  assert.deepEqual(errs, []);
  assert.equal(obj.spec.replicas, 1);
  assert.deepEqual(obj.spec.selector, { app: 'x' });
  assert.deepEqual(obj.metadata.labels, { app: 'x' });
  assert.equal(obj.spec.template.spec.restartPolicy, 'Always');
  assert.equal(replicationControllers.subresources!.scale!.selector!(obj), 'app=x');
  assert.equal(replicationControllers.fieldSelectors!['status.replicas'](obj), '0');
  const bad: any = structuredClone(rc);
  bad.spec.selector = { app: 'y' };
  assert.deepEqual(lines(create(replicationControllers, bad).errs), [
    'spec.template.metadata.labels: Invalid value: {"app":"x"}: `selector` does not match template `labels`',
  ]);
});

test('pvc validation and update rules', () => {
  const { obj, errs } = create(persistentVolumeClaims, {
    metadata: { name: 'c' },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
  });
  assert.deepEqual(errs, []);
  assert.equal(obj.spec.volumeMode, 'Filesystem');
  assert.deepEqual(lines(create(persistentVolumeClaims, { metadata: { name: 'c' }, spec: {} }).errs), [
    'spec.accessModes: Required value: at least 1 access mode is required',
    'spec.resources[storage]: Required value',
  ]);
  const u = update(
    persistentVolumeClaims,
    { metadata: { name: 'c' }, spec: { ...structuredClone(obj.spec), accessModes: ['ReadWriteMany'] } },
    obj,
  );
  assert.deepEqual(lines(u.errs), [
    'spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims',
  ]);
});

test('pod template validation paths', () => {
  const errs = create(podTemplates, {
    metadata: { name: 't' },
    template: { spec: { containers: [{ name: 'c' }] } },
  }).errs;
  assert.deepEqual(lines(errs), ['template.spec.containers[0].image: Required value']);
});

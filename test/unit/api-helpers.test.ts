// Table tests for src/api/helpers, with cases taken from upstream's tests of the same functions
// (core/v1 toleration_test.go, component-helpers nodeaffinity_test.go and resource helpers_test.go,
// pkg/api/v1/pod util_test.go, qos_test.go, volume/util GetDefaultClass).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, Node, NodeSelectorTerm, Pod, Taint, Toleration } from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import { findUntoleratedTaint, isHardTaint, toleratesTaint } from '../../src/api/helpers/taints.js';
import {
  nodeSelectorTermMatches,
  podMatchesNodeSelectorAndAffinity,
  preferredTermMatchers,
} from '../../src/api/helpers/nodeaffinity.js';
import { isPodAvailable, isPodReady } from '../../src/api/helpers/podready.js';
import { defaultStorageClass, isDefaultStorageClass } from '../../src/api/helpers/storageclass.js';
import { podLimits, podQOSClass, podRequests } from '../../src/api/helpers/podresources.js';
import { Quantity } from '../../src/machinery/quantity.js';

describe('toleratesTaint', () => {
  const taint: Taint = { key: 'foo', value: 'bar', effect: 'NoSchedule' };
  const cases: [string, Toleration, Taint, boolean][] = [
    [
      'same key, value and effect (Equal)',
      { key: 'foo', operator: 'Equal', value: 'bar', effect: 'NoSchedule' },
      taint,
      true,
    ],
    ['empty operator means Equal', { key: 'foo', value: 'bar', effect: 'NoSchedule' }, taint, true],
    ['other value', { key: 'foo', operator: 'Equal', value: 'baz', effect: 'NoSchedule' }, taint, false],
    ['Exists ignores the value', { key: 'foo', operator: 'Exists', effect: 'NoSchedule' }, taint, true],
    ['other effect', { key: 'foo', operator: 'Exists', effect: 'NoExecute' }, taint, false],
    ['empty effect matches every effect', { key: 'foo', operator: 'Exists' }, taint, true],
    ['other key', { key: 'bar', operator: 'Exists' }, taint, false],
    ['empty key with Exists matches every taint', { operator: 'Exists' }, taint, true],
    // Upstream compares values even with an empty key (validation forbids the combination; the
    // node lifecycle controller's copy refused it outright).
    ['empty key with Equal compares values', { operator: 'Equal', value: 'bar' }, taint, true],
    ['empty key with Equal, other value', { operator: 'Equal', value: 'x' }, taint, false],
    ['no value on either side (Equal)', { key: 'k', operator: 'Equal' }, { key: 'k', effect: 'NoSchedule' }, true],
    ['unknown operator tolerates nothing', { key: 'foo', operator: 'Bogus', value: 'bar' }, taint, false],
  ];
  for (const [name, tol, t, want] of cases) test(name, () => assert.equal(toleratesTaint(tol, t), want));

  test('findUntoleratedTaint: the first hard taint without a toleration', () => {
    const taints: Taint[] = [
      { key: 'soft', effect: 'PreferNoSchedule' },
      { key: 'a', effect: 'NoSchedule' },
      { key: 'b', effect: 'NoExecute' },
    ];
    assert.equal(findUntoleratedTaint(taints, [], isHardTaint)?.key, 'a');
    assert.equal(findUntoleratedTaint(taints, [{ key: 'a', operator: 'Exists' }], isHardTaint)?.key, 'b');
    assert.equal(
      findUntoleratedTaint(
        taints,
        [
          { key: 'a', operator: 'Exists' },
          { key: 'b', operator: 'Exists' },
        ],
        isHardTaint,
      ),
      undefined,
    );
    assert.equal(findUntoleratedTaint(undefined, undefined), undefined);
  });
});

describe('node selector terms', () => {
  const node = (labels: Record<string, string>, name = 'n1'): Node => ({ metadata: { name, labels } });
  const expr = (key: string, operator: string, values?: string[]): NodeSelectorTerm => ({
    matchExpressions: [{ key, operator, ...(values ? { values } : {}) }],
  });
  const cases: [string, NodeSelectorTerm, Node, boolean][] = [
    ['In matches', expr('zone', 'In', ['a', 'b']), node({ zone: 'b' }), true],
    ['In, other value', expr('zone', 'In', ['a']), node({ zone: 'b' }), false],
    ['In, label absent', expr('zone', 'In', ['a']), node({}), false],
    ['NotIn, label absent', expr('zone', 'NotIn', ['a']), node({}), true],
    ['NotIn, listed value', expr('zone', 'NotIn', ['a']), node({ zone: 'a' }), false],
    ['NotIn without values does not parse: no match', expr('zone', 'NotIn', []), node({}), false],
    ['Exists', expr('gpu', 'Exists'), node({ gpu: '' }), true],
    ['DoesNotExist', expr('gpu', 'DoesNotExist'), node({ gpu: '' }), false],
    ['Gt: greater', expr('cores', 'Gt', ['4']), node({ cores: '8' }), true],
    ['Gt: equal is not greater', expr('cores', 'Gt', ['8']), node({ cores: '8' }), false],
    ['Lt: less', expr('cores', 'Lt', ['16']), node({ cores: '8' }), true],
    ['Gt: leading zero parses (strconv.ParseInt)', expr('cores', 'Gt', ['4']), node({ cores: '08' }), true],
    ['Gt: explicit sign parses', expr('cores', 'Gt', ['4']), node({ cores: '+8' }), true],
    // labels.NewRequirement also validates values as label values, which cannot start with '-'.
    ['Gt: a negative value does not parse', expr('temp', 'Gt', ['-10']), node({ temp: '5' }), false],
    ['Gt: trailing garbage is not a number', expr('cores', 'Gt', ['4']), node({ cores: '8abc' }), false],
    ['Gt: a fraction is not an integer', expr('cores', 'Lt', ['4']), node({ cores: '1.5' }), false],
    [
      'Gt: int64 beyond 2^53 compares exactly',
      expr('big', 'Gt', ['9007199254740992']),
      node({ big: '9007199254740993' }),
      true,
    ],
    ['Gt with two values does not parse', expr('cores', 'Gt', ['1', '2']), node({ cores: '8' }), false],
    ['Gt with a non-integer value does not parse', expr('cores', 'Gt', ['x']), node({ cores: '8' }), false],
    ['unknown operator', expr('zone', 'Equals', ['a']), node({ zone: 'a' }), false],
    ['empty term matches nothing', {}, node({ zone: 'a' }), false],
    [
      'matchFields metadata.name In',
      { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] },
      node({}),
      true,
    ],
    [
      'matchFields metadata.name NotIn',
      { matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['n1'] }] },
      node({}),
      false,
    ],
    [
      'matchFields with two values does not parse',
      { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1', 'n2'] }] },
      node({}),
      false,
    ],
    [
      'matchFields Exists is not supported',
      { matchFields: [{ key: 'metadata.name', operator: 'Exists' }] },
      node({}),
      false,
    ],
    [
      'expressions and fields are ANDed',
      {
        matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }],
        matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n2'] }],
      },
      node({ zone: 'a' }),
      false,
    ],
  ];
  for (const [name, term, n, want] of cases) test(name, () => assert.equal(nodeSelectorTermMatches(term, n), want));

  test('pod nodeSelector and required affinity: selector ANDed with ORed terms', () => {
    const pod = (spec: Partial<Pod['spec']>): Pick<Pod, 'spec'> => ({ spec: { containers: [], ...spec } });
    const n = node({ disk: 'ssd', zone: 'a' });
    assert.equal(podMatchesNodeSelectorAndAffinity(pod({}), n), true);
    assert.equal(podMatchesNodeSelectorAndAffinity(pod({ nodeSelector: { disk: 'ssd' } }), n), true);
    assert.equal(podMatchesNodeSelectorAndAffinity(pod({ nodeSelector: { disk: 'hdd' } }), n), false);
    assert.equal(
      podMatchesNodeSelectorAndAffinity(pod({ nodeSelector: { absent: '' } }), n),
      false,
      'an empty value still needs the label',
    );
    const affinity = (terms: NodeSelectorTerm[]) => ({
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } },
    });
    assert.equal(
      podMatchesNodeSelectorAndAffinity(
        pod({ affinity: affinity([expr('zone', 'In', ['b']), expr('zone', 'In', ['a'])]) }),
        n,
      ),
      true,
    );
    assert.equal(
      podMatchesNodeSelectorAndAffinity(
        pod({ nodeSelector: { disk: 'hdd' }, affinity: affinity([expr('zone', 'In', ['a'])]) }),
        n,
      ),
      false,
    );
    assert.equal(
      podMatchesNodeSelectorAndAffinity(pod({ affinity: affinity([]) }), n),
      false,
      'no terms: nothing matches',
    );
    assert.equal(podMatchesNodeSelectorAndAffinity(pod({ affinity: affinity([{}]) }), n), false);
  });

  test('preferred terms: zero weights and empty terms dropped', () => {
    const m = preferredTermMatchers([
      { weight: 0, preference: expr('zone', 'In', ['a']) },
      { weight: 5, preference: {} },
      { weight: 3, preference: expr('zone', 'In', ['a']) },
    ]);
    assert.deepEqual(
      m.map((x) => x.weight),
      [3],
    );
    assert.equal(m[0].match(node({ zone: 'a' })), true);
  });
});

describe('pod readiness and availability', () => {
  const T = Date.parse('2024-05-01T10:00:00Z');
  const pod = (status?: string, lastTransitionTime?: string): Pick<Pod, 'status'> => ({
    status: status
      ? { conditions: [{ type: 'Ready', status, ...(lastTransitionTime ? { lastTransitionTime } : {}) }] }
      : {},
  });
  test('ready only with Ready=True', () => {
    assert.equal(isPodReady(pod('True')), true);
    assert.equal(isPodReady(pod('False')), false);
    assert.equal(isPodReady(pod()), false);
    assert.equal(isPodReady(undefined), false);
  });
  const cases: [string, Pick<Pod, 'status'>, number, number, boolean][] = [
    ['not ready', pod('False', '2024-05-01T09:00:00Z'), 0, T, false],
    ['ready, minReadySeconds 0', pod('True'), 0, T, true],
    ['ready long enough', pod('True', '2024-05-01T09:59:00Z'), 30, T, true],
    ['ready, not long enough', pod('True', '2024-05-01T09:59:50Z'), 30, T, false],
    // IsPodAvailable uses Before: exactly minReadySeconds is not yet available (the StatefulSet
    // controller's copy said it was).
    ['exactly minReadySeconds is not yet available', pod('True', '2024-05-01T09:59:30Z'), 30, T, false],
    ['ready without a transition time needs minReadySeconds 0', pod('True'), 10, T, false],
  ];
  for (const [name, p, min, now, want] of cases) test(name, () => assert.equal(isPodAvailable(p, min, now), want));
});

describe('default StorageClass', () => {
  const sc = (name: string, created: string, annotations?: Record<string, string>): StorageClass => ({
    metadata: { name, creationTimestamp: created, ...(annotations ? { annotations } : {}) },
    provisioner: 'p',
  });
  const GA = { 'storageclass.kubernetes.io/is-default-class': 'true' };
  const BETA = { 'storageclass.beta.kubernetes.io/is-default-class': 'true' };
  test('the GA and the beta annotation both mark a default; only "true" counts', () => {
    assert.equal(isDefaultStorageClass(sc('a', '', GA)), true);
    assert.equal(isDefaultStorageClass(sc('a', '', BETA)), true);
    assert.equal(isDefaultStorageClass(sc('a', '', { 'storageclass.kubernetes.io/is-default-class': 'True' })), false);
    assert.equal(isDefaultStorageClass(sc('a', '')), false);
  });
  test('the newest default wins; on a tie the first name', () => {
    const classes = [
      sc('old', '2024-01-01T00:00:00Z', GA),
      sc('new', '2024-06-01T00:00:00Z', BETA),
      sc('plain', '2025-01-01T00:00:00Z'),
    ];
    assert.equal(defaultStorageClass(classes)?.metadata?.name, 'new');
    const tie = [sc('b', '2024-01-01T00:00:00Z', GA), sc('a', '2024-01-01T00:00:00Z', GA)];
    assert.equal(defaultStorageClass(tie)?.metadata?.name, 'a');
    assert.equal(defaultStorageClass([sc('plain', '')]), undefined);
  });
});

describe('pod requests, limits and QoS class', () => {
  const c = (
    name: string,
    requests?: Record<string, string>,
    limits?: Record<string, string>,
    restartPolicy?: string,
  ): Container => ({
    name,
    ...(restartPolicy ? { restartPolicy } : {}),
    resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) },
  });
  const pod = (
    containers: Container[],
    initContainers: Container[] = [],
    overhead?: Record<string, string>,
  ): Pick<Pod, 'spec'> => ({
    spec: { containers, initContainers, ...(overhead ? { overhead } : {}) },
  });
  const str = (m: Map<string, { toString(): string }>) => Object.fromEntries([...m].map(([k, v]) => [k, v.toString()]));

  const requestCases: [string, Pick<Pod, 'spec'>, Record<string, string>][] = [
    [
      'containers add up',
      pod([c('a', { cpu: '100m' }), c('b', { cpu: '200m', memory: '1Gi' })]),
      { cpu: '300m', memory: '1Gi' },
    ],
    ['a larger init container sets the floor', pod([c('a', { cpu: '100m' })], [c('i', { cpu: '1' })]), { cpu: '1' }],
    [
      'sidecars add to the containers',
      pod([c('a', { cpu: '100m' })], [c('s', { cpu: '50m' }, undefined, 'Always')]),
      { cpu: '150m' },
    ],
    // An init container after a sidecar runs beside it: 50m + 200m > 100m + 50m.
    [
      'an init container after a sidecar counts with it',
      pod([c('a', { cpu: '100m' })], [c('s', { cpu: '50m' }, undefined, 'Always'), c('i', { cpu: '200m' })]),
      { cpu: '250m' },
    ],
    [
      'an init container before a sidecar does not',
      pod([c('a', { cpu: '100m' })], [c('i', { cpu: '200m' }), c('s', { cpu: '50m' }, undefined, 'Always')]),
      { cpu: '200m' },
    ],
    [
      'overhead is added',
      pod([c('a', { cpu: '100m' })], [], { cpu: '10m', memory: '5Mi' }),
      { cpu: '110m', memory: '5Mi' },
    ],
  ];
  for (const [name, p, want] of requestCases)
    test(`requests: ${name}`, () => assert.deepEqual(str(podRequests(p)), want));

  test('requests: defaults for containers that state none (NonMissingContainerRequests)', () => {
    const defaults = new Map([['cpu', Quantity.parse('100m')]]);
    assert.deepEqual(str(podRequests(pod([c('a'), c('b', { cpu: '1' })]), { nonMissingContainerRequests: defaults })), {
      cpu: '1100m',
    });
  });

  test('limits: overhead only where there is a limit', () => {
    assert.deepEqual(str(podLimits(pod([c('a', undefined, { cpu: '1' })], [], { cpu: '10m', memory: '5Mi' }))), {
      cpu: '1010m',
    });
  });

  const qosCases: [string, Pick<Pod, 'spec'>, string][] = [
    ['nothing stated', pod([c('a')]), 'BestEffort'],
    ['only other resources', pod([c('a', { 'ephemeral-storage': '1Gi' })]), 'BestEffort'],
    ['zero quantities count as unset', pod([c('a', { cpu: '0' }, { memory: '0' })]), 'BestEffort'],
    [
      'limits equal requests for cpu and memory',
      pod([c('a', { cpu: '1', memory: '1Gi' }, { cpu: '1', memory: '1Gi' })]),
      'Guaranteed',
    ],
    [
      'limits alone, before defaulting copies them to requests',
      pod([c('a', undefined, { cpu: '1', memory: '1Gi' })]),
      'Burstable',
    ],
    [
      'equal amounts in other spellings',
      pod([c('a', { cpu: '1000m', memory: '1024Mi' }, { cpu: '1', memory: '1Gi' })]),
      'Guaranteed',
    ],
    ['requests below limits', pod([c('a', { cpu: '500m', memory: '1Gi' }, { cpu: '1', memory: '1Gi' })]), 'Burstable'],
    ['a memory limit missing', pod([c('a', { cpu: '1' }, { cpu: '1' })]), 'Burstable'],
    [
      'an init container without limits',
      pod([c('a', undefined, { cpu: '1', memory: '1Gi' })], [c('i', { cpu: '1' })]),
      'Burstable',
    ],
  ];
  for (const [name, p, want] of qosCases) test(`QoS: ${name}`, () => assert.equal(podQOSClass(p), want));
});

// API Priority and Fairness: classification by the bootstrap FlowSchemas (k8ts' component
// identities land where upstream's components land), shuffle sharding, fair queuing between
// flows, and rejection when a queue is full or a request waited too long. Validation and defaults
// of the two kinds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FlowSchema } from 'kubernetes-types/flowcontrol/v1.js';
import { byPrecedence, distinguisher, schemaMatches } from '../../src/apiserver/flowcontrol/classify.js';
import { Dealer, fnv64a } from '../../src/apiserver/flowcontrol/shufflesharding.js';
import { QueueSet, Rejected, type Waiting } from '../../src/apiserver/flowcontrol/queueset.js';
import { FlowControl, type Ticket, type WaitingTicket } from '../../src/apiserver/flowcontrol/index.js';
import { ONE_SEAT, WatchTracker, estimateWork, listParamsOf } from '../../src/apiserver/flowcontrol/workestimate.js';
import { isPromise } from '../../src/apiserver/convert.js';
import { allocate } from '../../src/apiserver/flowcontrol/borrowing.js';
import {
  MANDATORY_FLOW_SCHEMAS,
  SUGGESTED_FLOW_SCHEMAS,
  MANDATORY_PRIORITY_LEVELS,
  SUGGESTED_PRIORITY_LEVELS,
} from '../../src/api/flowcontrol/v1/bootstrap.js';
import {
  defaultPriorityLevel,
  validateFlowSchema,
  validatePriorityLevel,
} from '../../src/api/flowcontrol/v1/flowcontrol.js';
import { formatFieldError } from '../../src/machinery/fielderrors.js';
import type { Attributes } from '../../src/apiserver/authz/types.js';
import type { UserInfo } from '../../src/apiserver/user.js';
import {
  KUBE_CONTROLLER_MANAGER,
  KUBE_SCHEDULER,
  controllerUser,
  nodeUser,
  userNamed,
} from '../../src/server/identities.js';

const schemas = [...MANDATORY_FLOW_SCHEMAS, ...SUGGESTED_FLOW_SCHEMAS].sort(byPrecedence);

function attrs(
  user: UserInfo,
  verb: string,
  resource: string,
  namespace = '',
  apiGroup = '',
  subresource = '',
): Attributes {
  return {
    user,
    verb,
    resourceRequest: true,
    namespace,
    apiGroup,
    apiVersion: 'v1',
    resource,
    subresource,
    name: '',
    path: '',
  };
}

function classify(a: Attributes): { schema: string; level: string; flow: string } {
  const fs = schemas.find((s) => schemaMatches(s, a))!;
  return { schema: fs.metadata!.name!, level: fs.spec!.priorityLevelConfiguration.name, flow: distinguisher(fs, a) };
}

test('components are classified where upstream puts them', () => {
  const admin = userNamed('admin', ['system:masters']);
  assert.deepEqual(classify(attrs(admin, 'create', 'pods', 'default')), {
    schema: 'exempt',
    level: 'exempt',
    flow: '',
  });
  const node = nodeUser('sim-1');
  assert.equal(classify(attrs(node, 'update', 'nodes', '', '', 'status')).schema, 'system-node-high');
  assert.equal(
    classify(attrs(node, 'update', 'leases', 'kube-node-lease', 'coordination.k8s.io')).schema,
    'system-node-high',
  );
  assert.deepEqual(classify(attrs(node, 'patch', 'pods', 'default', '', 'status')), {
    schema: 'system-nodes',
    level: 'system',
    flow: 'system:node:sim-1',
  });
  // The scheduler's bindings: ByNamespace, so one namespace's flood is one flow.
  assert.deepEqual(classify(attrs(KUBE_SCHEDULER, 'create', 'pods', 'ns1', '', 'binding')), {
    schema: 'kube-scheduler',
    level: 'workload-high',
    flow: 'ns1',
  });
  assert.equal(
    classify(attrs(KUBE_SCHEDULER, 'update', 'leases', 'kube-system', 'coordination.k8s.io')).schema,
    'system-leader-election',
  );
  assert.equal(classify(attrs(KUBE_CONTROLLER_MANAGER, 'list', 'pods')).schema, 'kube-controller-manager');
  assert.equal(
    classify(attrs(KUBE_CONTROLLER_MANAGER, 'update', 'endpoints', 'default')).schema,
    'endpoint-controller',
  );
  // Controllers run as kube-system service accounts (--use-service-account-credentials).
  assert.deepEqual(classify(attrs(controllerUser('replicaset'), 'create', 'pods', 'bench')), {
    schema: 'kube-system-service-accounts',
    level: 'workload-high',
    flow: 'bench',
  });
  // Kubernetes 1.30's configuration (the version k8ts reports): leader election on ConfigMaps and
  // Endpoints by kube-system service accounts.
  const ksa = {
    name: 'system:serviceaccount:kube-system:some-controller',
    groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
  };
  assert.equal(classify(attrs(ksa, 'update', 'configmaps', 'ns1')).schema, 'workload-leader-election');
  assert.equal(classify(attrs(ksa, 'list', 'configmaps', 'ns1')).schema, 'kube-system-service-accounts');
  const sa = {
    name: 'system:serviceaccount:apps:web',
    groups: ['system:serviceaccounts', 'system:serviceaccounts:apps', 'system:authenticated'],
  };
  assert.equal(classify(attrs(sa, 'get', 'configmaps', 'apps')).schema, 'service-accounts');
  assert.deepEqual(classify(attrs(userNamed('alice'), 'get', 'pods', 'default')), {
    schema: 'global-default',
    level: 'global-default',
    flow: 'alice',
  });
  const probe: Attributes = { ...attrs(userNamed('x'), 'get', ''), resourceRequest: false, path: '/readyz' };
  assert.equal(classify(probe).schema, 'probes');
  assert.equal(classify({ ...probe, path: '/metrics' }).schema, 'global-default');
  const anon = { name: 'system:anonymous', groups: ['system:unauthenticated'] };
  assert.equal(classify(attrs(anon, 'get', 'pods', 'default')).schema, 'global-default');
  // Cluster-scoped requests match namespaced-only rules only with clusterScope.
  const nsOnly: FlowSchema = {
    metadata: { name: 'ns-only' },
    spec: {
      priorityLevelConfiguration: { name: 'x' },
      rules: [
        {
          subjects: [{ kind: 'User', user: { name: 'alice' } }],
          resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'], namespaces: ['*'] }],
        },
      ],
    },
  };
  assert.equal(schemaMatches(nsOnly, attrs(userNamed('alice'), 'list', 'nodes')), false);
  assert.equal(schemaMatches(nsOnly, attrs(userNamed('alice'), 'list', 'pods', 'a')), true);
  assert.equal(schemaMatches(nsOnly, attrs(userNamed('bob'), 'list', 'pods', 'a')), false);
});

test('shuffle sharding deals distinct queues, the same for a flow, spread over the deck', () => {
  const d = new Dealer(128, 6);
  const seen = new Array(128).fill(0);
  for (let i = 0; i < 2000; i++) {
    const hand = d.deal(fnv64a(`flow-${i}`));
    assert.equal(hand.length, 6);
    assert.equal(new Set(hand).size, 6, `distinct cards ${hand.join()}`);
    for (const c of hand) {
      assert.ok(c >= 0 && c < 128);
      seen[c]++;
    }
  }
  assert.deepEqual(d.deal(fnv64a('a', 'b')), d.deal(fnv64a('a', 'b')));
  // 12,000 cards over 128 queues: each gets about 94; none is starved or hot.
  assert.ok(Math.min(...seen) > 40 && Math.max(...seen) < 160, `${Math.min(...seen)}..${Math.max(...seen)}`);
  assert.deepEqual(new Dealer(4, 4).deal(12345n).sort(), [0, 1, 2, 3]);
  assert.throws(() => new Dealer(4, 5));
});

test('a level runs its seats, queues the rest fairly between flows and rejects past the queue limit', async () => {
  const set = new QueueSet(2, { queues: 8, handSize: 2, queueLengthLimit: 3 }, 5_000);
  assert.equal(set.acquire('a'), true);
  assert.equal(set.acquire('a'), true);
  const order: string[] = [];
  const waits: Promise<void>[] = [];
  // Flow a floods: three wait in its shortest queue... and the rest of its hand.
  for (let i = 0; i < 6; i++) waits.push((set.acquire('a') as Promise<void>).then(() => void order.push('a')));
  // Its hand (2 queues x 3) is full now: the next one is rejected at once.
  await assert.rejects(set.acquire('a') as Promise<void>, (e: Rejected) => e.reason === 'queue-full');
  // Flow b arrives later with one request; it is served before a's backlog is.
  const b = (set.acquire('b') as Promise<void>).then(() => void order.push('b'));
  assert.equal(set.waiting, 7);
  for (let i = 0; i < 3; i++) {
    set.release();
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(order.indexOf('b') >= 0 && order.indexOf('b') <= 2, `b served among the first turns: ${order.join()}`);
  for (let i = 0; i < 6; i++) set.release();
  await Promise.all([...waits, b]);
  assert.equal(set.waiting, 0);
  assert.equal(set.executing, 0);
});

test('a request that waits past the limit is rejected and leaves its queue', async () => {
  const set = new QueueSet(1, { queues: 1, handSize: 1, queueLengthLimit: 5 }, 50);
  assert.equal(set.acquire('x'), true);
  const started = Date.now();
  await assert.rejects(set.acquire('x') as Promise<void>, (e: Rejected) => e.reason === 'time-out');
  assert.ok(Date.now() - started < 2_000);
  assert.equal(set.waiting, 0);
  set.release();
  assert.equal(set.acquire('x'), true, 'the seat is free again and nobody waits');
  // A level that does not queue rejects at once when its seats are taken.
  const reject = new QueueSet(1, undefined, 1000);
  assert.equal(reject.acquire('y'), true);
  await assert.rejects(reject.acquire('y') as Promise<void>, (e: Rejected) => e.reason === 'concurrency-limit');
});

test('a waiting request cancelled (its client left) leaves its queue at once and never takes a seat', async () => {
  const set = new QueueSet(1, { queues: 1, handSize: 1, queueLengthLimit: 3 }, 60_000);
  assert.equal(set.acquire('x'), true);
  const gone = [set.acquire('x'), set.acquire('x'), set.acquire('x')] as Waiting[];
  assert.equal(set.waiting, 3);
  for (const g of gone) g.cancel();
  assert.equal(set.waiting, 0);
  for (const g of gone) await assert.rejects(g, (e: Rejected) => e.reason === 'time-out');
  // Their slots are free: three more fit in the queue of three, and the next one is served first.
  const next = set.acquire('y') as Waiting;
  const more = [set.acquire('x') as Waiting, set.acquire('x') as Waiting];
  await assert.rejects(set.acquire('x') as Waiting, (e: Rejected) => e.reason === 'queue-full');
  set.release();
  await next;
  assert.equal(set.executing, 1);
  assert.equal(set.waiting, 2);
  gone[0].cancel(); // a second cancel, or one after the fact, changes nothing
  set.release();
  set.release();
  set.release();
  await Promise.all(more);
  assert.equal(set.executing, 0);
  assert.equal(set.waiting, 0);
  // Through FlowControl: the pair's waiting count drops and the rejection is counted as upstream's "time-out".
  const fc = new FlowControl({ store: () => assert.fail('no store needed'), log: undefined as never }, 3, 60_000);
  const a = attrs(controllerUser('replicaset-controller'), 'create', 'pods', 'kube-system');
  const first = fc.admitRequest(a) as Ticket;
  const waiting = fc.admitRequest(a) as WaitingTicket;
  const pair = () => [...fc.pairStats()].find((p) => p.level === 'workload-high')!;
  assert.equal(pair().waiting, 1);
  waiting.cancel();
  await assert.rejects(waiting, (e: { code: number }) => e.code === 429);
  assert.equal(pair().waiting, 0);
  assert.equal(pair().rejected.get('time-out'), 1);
  assert.equal(pair().dispatched, 1);
  first.release();
});

test('an in-process call rejected with 429 is tried again after Retry-After, as client-go does', async () => {
  // Three seats for the server: workload-high gets one; a queued call waits at most 50 ms.
  const fc = new FlowControl({ store: () => assert.fail('no store needed'), log: undefined as never }, 3, 50);
  const rs = controllerUser('replicaset-controller');
  const target = { resource: { group: '', version: 'v1', plural: 'pods' } };
  let release!: () => void;
  const first = fc.runInProcess(
    rs,
    'create',
    target,
    'kube-system',
    () => new Promise<string>((r) => (release = () => r('first'))),
  );
  const started = Date.now();
  // Waits past 50 ms behind the first (a 429 inside), is tried again after 1 s, and then runs.
  const second = fc.runInProcess(rs, 'create', target, 'kube-system', () => Promise.resolve('second'));
  setTimeout(() => release(), 200);
  assert.equal(await first, 'first');
  assert.equal(await second, 'second');
  assert.ok(Date.now() - started >= 900, `tried again after Retry-After: ${Date.now() - started} ms`);
  // Anything but a 429 reaches the caller at once.
  await assert.rejects(
    fc.runInProcess(rs, 'create', target, 'kube-system', () => Promise.reject(new Error('boom'))),
    /boom/,
  );
});

test('validation names the field; defaults as upstream', () => {
  const pl = {
    metadata: { name: 'p' },
    spec: { type: 'Limited', limited: { limitResponse: { type: 'Queue', queuing: {} } } },
  } as any;
  defaultPriorityLevel(pl);
  assert.equal(pl.spec.limited.nominalConcurrencyShares, 30);
  assert.equal(pl.spec.limited.lendablePercent, 0);
  assert.deepEqual(pl.spec.limited.limitResponse.queuing, { queues: 64, handSize: 8, queueLengthLimit: 50 });
  assert.deepEqual(validatePriorityLevel(pl), []);
  const errs = (o: any) => validatePriorityLevel(o).map(formatFieldError);
  assert.match(errs({ ...pl, spec: { type: 'Limited' } }).join(), /spec\.limited/);
  assert.match(errs({ metadata: { name: 'p' }, spec: { type: 'Other' } }).join(), /spec\.type/);
  assert.match(
    errs({ metadata: { name: 'exempt' }, spec: pl.spec }).join(),
    /spec\.type: Invalid value: "Limited": type must be 'Exempt' if and only if name is 'exempt'/,
  );
  const q = (queuing: object) => ({
    metadata: { name: 'p' },
    spec: { type: 'Limited', limited: { limitResponse: { type: 'Queue', queuing } } },
  });
  assert.match(
    errs(q({ queues: 4, handSize: 5, queueLengthLimit: 1 })).join(),
    /spec\.limited\.limitResponse\.queuing\.handSize: Invalid value: 5: should not be greater than queues \(4\)/,
  );
  assert.match(errs(q({ queues: 10000, handSize: 15, queueLengthLimit: 1 })).join(), /required entropy bits/);
  assert.match(
    errs({
      metadata: { name: 'p' },
      spec: { type: 'Limited', limited: { lendablePercent: 101, limitResponse: { type: 'Reject' } } },
    }).join(),
    /lendablePercent/,
  );
  for (const o of [...MANDATORY_PRIORITY_LEVELS, ...SUGGESTED_PRIORITY_LEVELS])
    assert.deepEqual(validatePriorityLevel(o), [], o.metadata!.name);
  for (const o of schemas) assert.deepEqual(validateFlowSchema(o), [], o.metadata!.name);
  const fsErrs = (spec: any) => validateFlowSchema({ metadata: { name: 'f' }, spec }).map((e) => e.field);
  assert.deepEqual(fsErrs({ priorityLevelConfiguration: { name: 'x' }, matchingPrecedence: 10001 }), [
    'spec.matchingPrecedence',
  ]);
  assert.deepEqual(
    fsErrs({
      priorityLevelConfiguration: { name: 'x' },
      matchingPrecedence: 5,
      distinguisherMethod: { type: 'ByGroup' },
    }),
    ['spec.distinguisherMethod.type'],
  );
  assert.deepEqual(
    fsErrs({
      priorityLevelConfiguration: { name: 'x' },
      matchingPrecedence: 5,
      rules: [
        {
          subjects: [{ kind: 'User' }],
          resourceRules: [{ verbs: ['get', '*'], apiGroups: [''], resources: ['pods'] }],
        },
      ],
    }),
    [
      'spec.rules[0].subjects[0].user',
      'spec.rules[0].resourceRules[0].verbs',
      'spec.rules[0].resourceRules[0].namespaces',
    ],
  );
});

test('work estimate: a LIST by the objects it goes through, a write by the watchers it notifies', () => {
  const counts: Record<string, number> = { '/configmaps': 350, '/pods': 2000 };
  const watchers = new WatchTracker();
  const deps = { objectCount: (g: string, r: string) => counts[`${g}/${r}`], watchers };
  const user = userNamed('alice');
  const list = (q: string, name = '', resource = 'configmaps') => {
    const a = { ...attrs(user, 'list', resource, 'default'), name };
    return estimateWork(deps, a, 0, listParamsOf(new URLSearchParams(q))).initialSeats;
  };
  // From the watch cache (resourceVersion=0): every stored object, 100 a seat.
  assert.equal(list('resourceVersion=0'), 4);
  // Upstream 1.30 reads a list without resourceVersion from etcd: twice the objects it returns.
  assert.equal(list(''), 7);
  assert.equal(list('limit=50'), 1);
  // With a selector: every stored object is looked at, plus those returned.
  assert.equal(list('limit=50&labelSelector=a%3Db'), 4);
  assert.equal(
    list('limit=50&resourceVersion=0'),
    4,
    'a limit at resourceVersion 0 is served from the cache: all of them',
  );
  // Capped at 10 seats (upstream's maximumSeatsLimit), or the level's own maximum.
  assert.equal(list('resourceVersion=0', '', 'pods'), 10);
  const a = attrs(user, 'list', 'pods', 'default');
  assert.equal(estimateWork(deps, a, 3, { resourceVersion: '0' }).initialSeats, 3);
  // One object by name, or a resource whose count is not known: one seat.
  assert.equal(list('', 'one'), 1);
  assert.equal(list('', '', 'secrets'), 1);
  // A watch: one seat, unless it sends its initial events (then as a list from the cache).
  const w = attrs(user, 'watch', 'configmaps', 'default');
  assert.equal(estimateWork(deps, w, 0, {}).initialSeats, 1);
  assert.equal(estimateWork(deps, w, 0, { sendInitialEvents: true }).initialSeats, 4);
  // A GET, a non-resource request: one seat.
  assert.equal(estimateWork(deps, attrs(user, 'get', 'pods', 'default'), 0, undefined), ONE_SEAT);

  // Writes: under 10 interested watchers, nothing after; then one final seat per 10, 5 ms each,
  // spread over at most the level's maximum.
  const update = (ns: string, name = 'cm', resource = 'configmaps') =>
    estimateWork(deps, { ...attrs(user, 'update', resource, ns), name }, 0, undefined);
  const forget: (() => void)[] = [];
  for (let i = 0; i < 25; i++) forget.push(watchers.register('', 'configmaps', 'a', ''));
  assert.deepEqual(update('a'), { initialSeats: 1, finalSeats: 3, additionalLatencyMs: 5 });
  assert.equal(update('b'), ONE_SEAT, 'a watch of namespace a is not notified of namespace b');
  for (let i = 0; i < 90; i++) forget.push(watchers.register('', 'configmaps', '', ''));
  for (let i = 0; i < 5; i++) forget.push(watchers.register('', 'configmaps', 'a', 'cm'));
  // 25 + 90 + 5 = 120 watchers: 12 seats' work, on the 10 seats allowed: 6 ms each.
  assert.deepEqual(update('a'), { initialSeats: 1, finalSeats: 10, additionalLatencyMs: 6 });
  assert.deepEqual(update('b', 'x'), { initialSeats: 1, finalSeats: 9, additionalLatencyMs: 5 });
  assert.equal(watchers.interested('', 'configmaps', 'b', 'x'), 90);
  for (const f of forget) f();
  forget[0](); // twice: counted once
  assert.equal(watchers.interested('', 'configmaps', 'a', 'cm'), 0);
  // Each kubelet's pod watch (one node's pods) is not counted, as upstream's tracker leaves it out.
  for (let i = 0; i < 50; i++) forget.push(watchers.register('', 'pods', '', '', `spec.nodeName=node-${i}`));
  assert.equal(update('default', 'p', 'pods'), ONE_SEAT);
  for (let i = 0; i < 10; i++) watchers.register('', 'serviceaccounts', '', '');
  const token = { ...attrs(user, 'create', 'serviceaccounts', 'default', '', 'token'), name: 'sa' };
  assert.equal(estimateWork(deps, token, 0, undefined), ONE_SEAT, 'a token request notifies nobody');
});

test('a wide LIST takes several seats of its level; a write keeps its final seats for their extra time', async () => {
  // The server's 600 seats: global-default's share is 49, at most min(15 %, 49 / hand size 6) = 8 per request.
  const counts: Record<string, number> = { '/configmaps': 5000 };
  const fc = new FlowControl(
    {
      store: () => assert.fail('no store needed'),
      log: undefined as never,
      objectCount: (g, r) => counts[`${g}/${r}`],
    },
    600,
    60_000,
  );
  const level = () => fc.levelStats().find((l) => l.level === 'global-default')!;
  assert.equal(level().nominal, 49);
  const cap = level().current;
  const user = userNamed('alice');
  const wide = fc.admitRequest(attrs(user, 'list', 'configmaps', 'default'), { resourceVersion: '0' }) as Ticket;
  assert.equal(level().executing, 1);
  assert.equal(level().seatsInUse, 8);
  const pair = [...fc.pairStats()].find((p) => p.level === 'global-default')!;
  assert.equal(pair.executingSeats, 8);
  // One-seat requests fill the level; the next waits until the LIST gives its 8 seats back.
  const gets = Array.from({ length: cap - 8 }, () => fc.admitRequest(attrs(user, 'get', 'configmaps', 'default')));
  assert.ok(gets.every((g) => !isPromise(g)));
  assert.equal(level().seatsInUse, cap);
  const next = fc.admitRequest(attrs(user, 'get', 'configmaps', 'default'));
  assert.ok(isPromise(next));
  // A second wide LIST waits behind it for 8 free seats, though one is free after the first GET is done.
  (gets[0] as Ticket).release();
  const t = await next;
  assert.equal(level().waiting, 0);
  const wide2 = fc.admitRequest(attrs(user, 'list', 'configmaps', 'default'), { resourceVersion: '0' });
  assert.ok(isPromise(wide2));
  (gets[1] as Ticket).release();
  assert.equal(level().waiting, 1, 'one free seat is not enough for 8');
  wide.release();
  (await wide2).release();
  t.release();
  for (const g of gets.slice(2)) (g as Ticket).release();
  assert.equal(level().seatsInUse, 0);

  // A write to a resource 30 watchers follow: 3 final seats, held 5 ms after it is done.
  const forget = Array.from({ length: 30 }, () => fc.watchers.register('', 'configmaps', '', ''));
  const write = fc.admitRequest({ ...attrs(user, 'update', 'configmaps', 'default'), name: 'cm' }) as Ticket;
  assert.equal(level().seatsInUse, 3);
  write.release();
  assert.equal(level().executing, 0);
  assert.equal(level().seatsInUse, 3, 'held for the notifications');
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(level().seatsInUse, 0);
  for (const f of forget) f();
});

test('a request wider than its whole level runs alone', async () => {
  const set = new QueueSet(4, { queues: 4, handSize: 2, queueLengthLimit: 10 }, 60_000);
  assert.equal(set.acquire('a', 1), true);
  const wide = set.acquire('b', 6) as Waiting;
  assert.equal(set.waiting, 1);
  set.release(1);
  await wide;
  assert.equal(set.seatsInUse, 6);
  const after = set.acquire('a', 1) as Waiting;
  assert.ok(after instanceof Promise, 'nothing else runs beside it');
  set.release(6);
  await after;
  set.release(1);
  assert.equal(set.seatsInUse, 0);
});

test("seats are divided in proportion to targets, within each level's bounds", () => {
  const round = (xs: number[]) => xs.map((x) => Math.round(x * 1000) / 1000);
  const wide = { lower: 0, upper: 100 };
  assert.deepEqual(
    round(
      allocate(10, [
        { ...wide, target: 1 },
        { ...wide, target: 4 },
      ]),
    ),
    [2, 8],
  );
  // A lower bound holds: the rest goes to the other.
  assert.deepEqual(
    round(
      allocate(10, [
        { lower: 5, upper: 100, target: 1 },
        { ...wide, target: 4 },
      ]),
    ),
    [5, 5],
  );
  // An upper bound holds.
  assert.deepEqual(
    round(
      allocate(10, [
        { lower: 0, upper: 2, target: 4 },
        { ...wide, target: 1 },
      ]),
    ),
    [2, 8],
  );
  // Bounds that leave no room: all at the lower (or upper) bounds.
  assert.deepEqual(
    allocate(10, [
      { lower: 6, upper: 9, target: 1 },
      { lower: 6, upper: 9, target: 1 },
    ]),
    [6, 6],
  );
  assert.deepEqual(
    allocate(30, [
      { lower: 6, upper: 9, target: 1 },
      { lower: 6, upper: 9, target: 1 },
    ]),
    [9, 9],
  );
  // A level without demand keeps a tiny target: it gets (almost) nothing beyond its lower bound.
  const [idle, busy] = allocate(100, [
    { lower: 10, upper: 200, target: 10 },
    { lower: 0, upper: 200, target: 0 },
  ]);
  assert.ok(Math.abs(idle - 100) < 0.1 && busy < 0.1, `${idle} ${busy}`);
});

test('a busy level borrows the seats idle levels lend, within its bounds', async () => {
  const fc = new FlowControl({ store: () => assert.fail('no store needed'), log: undefined as never }, 600, 60_000);
  const view = (name: string) => fc.levelStats().find((l) => l.level === name)!;
  const gd = view('global-default');
  // Nominal 49, half of it lendable: 24 at least; may borrow up to the server's 600 more.
  assert.deepEqual([gd.nominal, gd.lower, gd.upper], [49, 24, 649]);
  const user = userNamed('alice');
  const tickets = Array.from({ length: 200 }, () => fc.admitRequest(attrs(user, 'get', 'configmaps', 'default')));
  const before = view('global-default');
  assert.ok(before.waiting > 0, 'more than its seats: some wait');
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 10));
    fc.sampleDemand();
  }
  fc.rebalance();
  const after = view('global-default');
  // Its demand (200 seats) is far above the others' (none): it borrows beyond its nominal share.
  assert.ok(after.current > 49 && after.current <= 649, `current ${after.current}`);
  assert.ok(after.current >= 200, `its 200 requests fit now (current ${after.current})`);
  assert.equal(after.waiting, 0);
  assert.equal(after.executing, 200);
  let sum = 0;
  for (const l of fc.levelStats()) {
    assert.ok(l.current >= l.lower && l.current <= l.upper, `${l.level}: ${l.current} in [${l.lower}, ${l.upper}]`);
    sum += l.current;
  }
  // The seats divided are the nominal ones (600, a little more from rounding up the shares).
  const nominal = fc.levelStats().reduce((s, l) => s + l.nominal, 0);
  assert.ok(Math.abs(sum - nominal) <= fc.levelStats().length, `${sum} of ${nominal}`);
  // A level that lends nothing keeps its nominal seats.
  assert.equal(view('catch-all').current >= view('catch-all').nominal, true);
  for (const t of tickets) (await t).release();
});

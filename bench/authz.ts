// Authorization decisions per second: the RBAC authorizer behind the privileged-group check (the
// chain every request passes), with 10,000 RoleBindings and ClusterRoleBindings of the default
// roles and per-namespace Roles, as a busy multi-tenant cluster has. Measured: an allowed
// decision (a ServiceAccount reading pods in its namespace), a denied one (the same account
// deleting secrets: every grant it has is visited), and a user with no bindings at all.
//   npm run bench:authz   (AUTHZ_BINDINGS, AUTHZ_ITERATIONS)
import { RbacAuthorizer } from '../src/apiserver/authz/rbac.js';
import { attributes, type Attributes } from '../src/apiserver/authz/types.js';
import { UnionAuthorizer, privilegedGroupAuthorizer } from '../src/apiserver/authz/union.js';
import { bootstrapClusterRoleBindings, bootstrapClusterRoles } from '../src/apiserver/authz/bootstrappolicy.js';
import { pick } from './common.js';

const BINDINGS = pick('AUTHZ_BINDINGS', 10_000, 10_000);
const ITERATIONS = pick('AUTHZ_ITERATIONS', 2_000_000, 300_000);
const NAMESPACES = Math.max(1, Math.floor(BINDINGS / 10));

const rbac = new RbacAuthorizer();
for (const r of bootstrapClusterRoles()) rbac.setClusterRole(r.name, { metadata: { name: r.name }, rules: r.rules });
for (const b of bootstrapClusterRoleBindings())
  rbac.setClusterRoleBinding(b.name, {
    metadata: { name: b.name },
    roleRef: { kind: 'ClusterRole', name: b.role },
    subjects: b.subjects,
  });
// Per namespace: a Role and ten bindings (ServiceAccounts to the Role, users to view/edit, a group).
for (let n = 0; n < NAMESPACES; n++) {
  const ns = `tenant-${n}`;
  rbac.setRole(ns, 'app', {
    metadata: { name: 'app', namespace: ns },
    rules: [
      { verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['pods', 'configmaps', 'services'] },
      { verbs: ['get'], apiGroups: ['apps'], resources: ['deployments', 'deployments/scale'] },
    ],
  });
  for (let i = 0; i < 10; i++) {
    const name = `b${i}`;
    const [roleRef, subject] =
      i < 6
        ? [
            { kind: 'Role', name: 'app' },
            { kind: 'ServiceAccount', name: `sa${i}`, namespace: ns },
          ]
        : i < 9
          ? [
              { kind: 'ClusterRole', name: i % 2 ? 'view' : 'edit' },
              { kind: 'User', name: `user-${n}-${i}` },
            ]
          : [
              { kind: 'ClusterRole', name: 'view' },
              { kind: 'Group', name: `team-${n}` },
            ];
    rbac.setRoleBinding(ns, name, { metadata: { name, namespace: ns }, roleRef, subjects: [subject] });
  }
}
const chain = new UnionAuthorizer([privilegedGroupAuthorizer, rbac]);

const sa = {
  name: `system:serviceaccount:tenant-${NAMESPACES >> 1}:sa3`,
  groups: ['system:serviceaccounts', `system:serviceaccounts:tenant-${NAMESPACES >> 1}`, 'system:authenticated'],
};
const cases: [string, Attributes, string][] = [
  [
    'allowed (SA gets a pod in its namespace)',
    attributes({ user: sa, verb: 'get', resource: 'pods', namespace: `tenant-${NAMESPACES >> 1}`, name: 'web' }),
    'Allow',
  ],
  [
    'denied (same SA deletes a secret)',
    attributes({ user: sa, verb: 'delete', resource: 'secrets', namespace: `tenant-${NAMESPACES >> 1}`, name: 'db' }),
    'NoOpinion',
  ],
  [
    'denied (user without bindings)',
    attributes({
      user: { name: 'stranger', groups: ['system:authenticated'] },
      verb: 'get',
      resource: 'pods',
      namespace: 'tenant-1',
      name: 'web',
    }),
    'NoOpinion',
  ],
];

// The first decision builds the subject index (timed apart).
let t0 = process.hrtime.bigint();
chain.authorize(cases[0][1]);
const indexMs = Number(process.hrtime.bigint() - t0) / 1e6;
console.log(
  `authz: ${BINDINGS} RoleBindings in ${NAMESPACES} namespaces + ${bootstrapClusterRoleBindings().length} default ClusterRoleBindings; index built in ${indexMs.toFixed(1)} ms`,
);
for (const [label, a, want] of cases) {
  if (chain.authorize(a).decision !== want) throw new Error(`${label}: expected ${want}`);
  for (let i = 0; i < 100_000; i++) chain.authorize(a); // warm-up
  // Wall time, and the process's CPU time (less disturbed by other processes on a shared machine).
  t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < ITERATIONS; i++) chain.authorize(a);
  const cpu = process.cpuUsage(cpu0);
  const ns = Number(process.hrtime.bigint() - t0) / ITERATIONS;
  const cpuNs = ((cpu.user + cpu.system) * 1000) / ITERATIONS;
  console.log(
    `  ${label.padEnd(44)} ${(ns / 1000).toFixed(3)} µs/decision wall, ${(cpuNs / 1000).toFixed(3)} µs CPU  (${Math.round(1e9 / ns).toLocaleString('en')} /s)`,
  );
}

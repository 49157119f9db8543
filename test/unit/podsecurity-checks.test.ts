// Each Pod Security Standards check: a passing and a failing pod, with upstream's exact reason and
// detail text (k8s.io/pod-security-admission/policy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, PodSpec } from 'kubernetes-types/core/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { Check } from '../../src/apiserver/admission/podsecurity/check.js';
import * as host from '../../src/apiserver/admission/podsecurity/baseline-host.js';
import * as ctr from '../../src/apiserver/admission/podsecurity/baseline-container.js';
import * as restricted from '../../src/apiserver/admission/podsecurity/restricted.js';

const c = (name: string, extra: Partial<Container> = {}): Container => ({ name, image: 'busybox', ...extra });
const spec = (extra: Partial<PodSpec> = {}): PodSpec => ({ containers: [c('a')], ...extra });

function fails(check: Check, s: PodSpec, reason: string, detail: string, meta: ObjectMeta = {}): void {
  assert.deepEqual(check.check(meta, s), { allowed: false, forbiddenReason: reason, forbiddenDetail: detail });
}
function passes(check: Check, s: PodSpec, meta: ObjectMeta = {}): void {
  assert.deepEqual(check.check(meta, s), { allowed: true });
}

test('hostNamespaces', () => {
  passes(host.hostNamespaces, spec({ hostNetwork: false }));
  fails(
    host.hostNamespaces,
    spec({ hostNetwork: true, hostPID: true, hostIPC: true }),
    'host namespaces',
    'hostNetwork=true, hostPID=true, hostIPC=true',
  );
  fails(host.hostNamespaces, spec({ hostPID: true }), 'host namespaces', 'hostPID=true');
});

test('privileged', () => {
  passes(ctr.privileged, spec({ containers: [c('a', { securityContext: { privileged: false } })] }));
  fails(
    ctr.privileged,
    spec({ containers: [c('a', { securityContext: { privileged: true } })] }),
    'privileged',
    'container "a" must not set securityContext.privileged=true',
  );
  fails(
    ctr.privileged,
    spec({
      initContainers: [c('i', { securityContext: { privileged: true } })],
      containers: [c('a', { securityContext: { privileged: true } })],
    }),
    'privileged',
    'containers "i", "a" must not set securityContext.privileged=true',
  );
});

test('capabilities (baseline): only the runtime defaults may be added', () => {
  passes(
    ctr.capabilitiesBaseline,
    spec({ containers: [c('a', { securityContext: { capabilities: { add: ['CHOWN', 'NET_BIND_SERVICE'] } } })] }),
  );
  fails(
    ctr.capabilitiesBaseline,
    spec({
      containers: [
        c('a', { securityContext: { capabilities: { add: ['SYS_ADMIN', 'NET_ADMIN', 'CHOWN'] } } }),
        c('b', { securityContext: { capabilities: { add: ['NET_ADMIN'] } } }),
      ],
    }),
    'non-default capabilities',
    'containers "a", "b" must not include "NET_ADMIN", "SYS_ADMIN" in securityContext.capabilities.add',
  );
});

test('hostPath volumes', () => {
  passes(host.hostPathVolumes, spec({ volumes: [{ name: 'e', emptyDir: {} }] }));
  fails(
    host.hostPathVolumes,
    spec({ volumes: [{ name: 'h', hostPath: { path: '/' } }] }),
    'hostPath volumes',
    'volume "h"',
  );
  fails(
    host.hostPathVolumes,
    spec({
      volumes: [
        { name: 'h', hostPath: { path: '/' } },
        { name: 'g', hostPath: { path: '/etc' } },
      ],
    }),
    'hostPath volumes',
    'volumes "h", "g"',
  );
});

test('hostPorts', () => {
  passes(host.hostPorts, spec({ containers: [c('a', { ports: [{ containerPort: 80 }] })] }));
  fails(
    host.hostPorts,
    spec({ containers: [c('a', { ports: [{ containerPort: 80, hostPort: 8080 }] })] }),
    'hostPort',
    'container "a" uses hostPort 8080',
  );
  fails(
    host.hostPorts,
    spec({
      containers: [
        c('a', { ports: [{ containerPort: 80, hostPort: 80 }] }),
        c('b', { ports: [{ containerPort: 443, hostPort: 443 }] }),
      ],
    }),
    'hostPort',
    'containers "a", "b" use hostPorts 443, 80',
  );
});

test('AppArmor: annotations and appArmorProfile may not be unconfined', () => {
  passes(ctr.appArmorProfile, spec(), {
    annotations: {
      'container.apparmor.security.beta.kubernetes.io/a': 'runtime/default',
      'container.apparmor.security.beta.kubernetes.io/b': 'localhost/foo',
    },
  });
  passes(ctr.appArmorProfile, spec({ securityContext: { appArmorProfile: { type: 'RuntimeDefault' } } }));
  fails(
    ctr.appArmorProfile,
    spec({ securityContext: { appArmorProfile: { type: 'Unconfined' } } }),
    'forbidden AppArmor profile',
    'pod must not set AppArmor profile type to "Unconfined"',
  );
  fails(
    ctr.appArmorProfile,
    spec({ initContainers: [c('bar', { securityContext: { appArmorProfile: { type: 'Unconfined' } } })] }),
    'forbidden AppArmor profile',
    'container "bar" must not set AppArmor profile type to "Unconfined"',
  );
  fails(
    ctr.appArmorProfile,
    spec(),
    'forbidden AppArmor profiles',
    'annotations must not set AppArmor profile type to ' +
      '"container.apparmor.security.beta.kubernetes.io/e="unconfined"", "container.apparmor.security.beta.kubernetes.io/f="unknown""',
    {
      annotations: {
        'container.apparmor.security.beta.kubernetes.io/f': 'unknown',
        'container.apparmor.security.beta.kubernetes.io/e': 'unconfined',
        'container.apparmor.security.beta.kubernetes.io/d': 'localhost/foo',
      },
    },
  );
});

test('seLinuxOptions', () => {
  passes(ctr.seLinuxOptions, spec({ securityContext: { seLinuxOptions: { type: 'container_t', level: 's0:c1' } } }));
  fails(
    ctr.seLinuxOptions,
    spec({
      securityContext: { seLinuxOptions: { type: 'spc_t' } },
      containers: [c('a', { securityContext: { seLinuxOptions: { user: 'u', role: 'r' } } })],
    }),
    'seLinuxOptions',
    'pod and container "a" set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set; role may not be set',
  );
});

test('procMount', () => {
  passes(ctr.procMount, spec({ containers: [c('a', { securityContext: { procMount: 'Default' } })] }));
  passes(
    ctr.procMount,
    spec({ hostUsers: false, containers: [c('a', { securityContext: { procMount: 'Unmasked' } })] }),
  );
  fails(
    ctr.procMount,
    spec({ containers: [c('a', { securityContext: { procMount: 'Unmasked' } })] }),
    'procMount',
    'container "a" must not set securityContext.procMount to "Unmasked"',
  );
});

test('seccompProfile (baseline): Unconfined is forbidden', () => {
  passes(ctr.seccompProfileBaseline, spec());
  fails(
    ctr.seccompProfileBaseline,
    spec({
      securityContext: { seccompProfile: { type: 'Unconfined' } },
      containers: [c('a', { securityContext: { seccompProfile: { type: 'Unconfined' } } })],
    }),
    'seccompProfile',
    'pod and container "a" must not set securityContext.seccompProfile.type to "Unconfined"',
  );
});

test('sysctls: only the safe set', () => {
  passes(
    host.sysctls,
    spec({ securityContext: { sysctls: [{ name: 'net.ipv4.ip_local_port_range', value: '1024 65535' }] } }),
  );
  fails(
    host.sysctls,
    spec({
      securityContext: {
        sysctls: [
          { name: 'kernel.msgmax', value: '1' },
          { name: 'net.core.somaxconn', value: '1' },
        ],
      },
    }),
    'forbidden sysctls',
    'kernel.msgmax, net.core.somaxconn',
  );
});

test('windows hostProcess', () => {
  passes(host.windowsHostProcess, spec());
  fails(
    host.windowsHostProcess,
    spec({
      securityContext: { windowsOptions: { hostProcess: true } },
      containers: [c('a', { securityContext: { windowsOptions: { hostProcess: true } } })],
    }),
    'hostProcess',
    'pod and container "a" must not set securityContext.windowsOptions.hostProcess=true',
  );
});

test('restricted volume types', () => {
  passes(
    restricted.restrictedVolumes,
    spec({
      volumes: [
        { name: 'c', configMap: { name: 'x' } },
        { name: 'p', persistentVolumeClaim: { claimName: 'x' } },
      ],
    }),
  );
  fails(
    restricted.restrictedVolumes,
    spec({ volumes: [{ name: 'host', hostPath: { path: '/' } }] }),
    'restricted volume types',
    'volume "host" uses restricted volume type "hostPath"',
  );
  fails(
    restricted.restrictedVolumes,
    spec({
      volumes: [
        { name: 'h', hostPath: { path: '/' } },
        { name: 'n', nfs: { server: 's', path: '/' } },
      ],
    }),
    'restricted volume types',
    'volumes "h", "n" use restricted volume types "hostPath", "nfs"',
  );
});

test('runAsNonRoot', () => {
  passes(restricted.runAsNonRoot, spec({ securityContext: { runAsNonRoot: true } }));
  passes(restricted.runAsNonRoot, spec({ containers: [c('a', { securityContext: { runAsNonRoot: true } })] }));
  fails(
    restricted.runAsNonRoot,
    spec(),
    'runAsNonRoot != true',
    'pod or container "a" must set securityContext.runAsNonRoot=true',
  );
  fails(
    restricted.runAsNonRoot,
    spec({
      securityContext: { runAsNonRoot: false },
      containers: [c('a', { securityContext: { runAsNonRoot: false } })],
    }),
    'runAsNonRoot != true',
    'pod and container "a" must not set securityContext.runAsNonRoot=false',
  );
});

test('runAsUser', () => {
  passes(restricted.runAsUser, spec({ securityContext: { runAsUser: 1000 } }));
  fails(
    restricted.runAsUser,
    spec({ containers: [c('a', { securityContext: { runAsUser: 0 } })] }),
    'runAsUser=0',
    'container "a" must not set runAsUser=0',
  );
  fails(
    restricted.runAsUser,
    spec({ securityContext: { runAsUser: 0 } }),
    'runAsUser=0',
    'pod must not set runAsUser=0',
  );
});

test('allowPrivilegeEscalation', () => {
  passes(
    restricted.allowPrivilegeEscalation,
    spec({ containers: [c('a', { securityContext: { allowPrivilegeEscalation: false } })] }),
  );
  passes(restricted.allowPrivilegeEscalation, spec({ os: { name: 'windows' } }));
  fails(
    restricted.allowPrivilegeEscalation,
    spec({ containers: [c('c')] }),
    'allowPrivilegeEscalation != false',
    'container "c" must set securityContext.allowPrivilegeEscalation=false',
  );
});

test('capabilities (restricted): drop ALL, add only NET_BIND_SERVICE', () => {
  passes(
    restricted.capabilitiesRestricted,
    spec({ containers: [c('a', { securityContext: { capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } } })] }),
  );
  fails(
    restricted.capabilitiesRestricted,
    spec(),
    'unrestricted capabilities',
    'container "a" must set securityContext.capabilities.drop=["ALL"]',
  );
  fails(
    restricted.capabilitiesRestricted,
    spec({ containers: [c('a', { securityContext: { capabilities: { drop: ['NET_RAW'], add: ['SYS_TIME'] } } })] }),
    'unrestricted capabilities',
    'container "a" must set securityContext.capabilities.drop=["ALL"]; container "a" must not include "SYS_TIME" in securityContext.capabilities.add',
  );
});

test('seccompProfile (restricted): RuntimeDefault or Localhost, set on the pod or every container', () => {
  passes(
    restricted.seccompProfileRestricted,
    spec({ securityContext: { seccompProfile: { type: 'RuntimeDefault' } } }),
  );
  passes(
    restricted.seccompProfileRestricted,
    spec({
      containers: [c('a', { securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'p' } } })],
    }),
  );
  fails(
    restricted.seccompProfileRestricted,
    spec(),
    'seccompProfile',
    'pod or container "a" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"',
  );
  fails(
    restricted.seccompProfileRestricted,
    spec({ containers: [c('a', { securityContext: { seccompProfile: { type: 'Unconfined' } } })] }),
    'seccompProfile',
    'container "a" must not set securityContext.seccompProfile.type to "Unconfined"',
  );
});

test('procMount (restricted): no user-namespace relaxation', () => {
  passes(restricted.procMountRestricted, spec());
  fails(
    restricted.procMountRestricted,
    spec({ hostUsers: false, containers: [c('a', { securityContext: { procMount: 'Unmasked' } })] }),
    'procMount',
    'container "a" must not set securityContext.procMount to "Unmasked"',
  );
});

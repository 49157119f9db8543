// The k8ts command line. Every command loads what it runs when it runs (dynamic imports in the
// actions): `k8ts --help` or `k8ts chart template` must not pay for loading the server.
import { Command, Option } from 'commander';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultDataDir } from './datadir.js';
import { addSimFlags } from '../sim/config.js';
import { registerImageCommands } from './image.js';
import { addAgentFlags } from './agentflags.js';
import { addIngressFlags } from './ingressflags.js';
import { addAuthenticationFlags } from './authnflags.js';
import { withKubeconfigFlags, withLeaderElectFlags, withLogFlags } from './flags.js';
import { addSyncConcurrencyOptions } from './component.js';
import { registerDevicePluginCommand } from './deviceplugin.js';
import { registerChartCommands } from './chart.js';
import { registerSecretsEncryptCommand } from './secretsencrypt.js';
import { registerEtcdSnapshotCommand } from './etcdsnapshot.js';
import { registerDatastoreCommand } from './datastore.js';
import { registerTokenCommand } from './token.js';
import { registerDashboardCommands } from './dashboard.js';
import { registerComposeCommands } from './compose.js';
import { registerRolloutCommands } from './rollout.js';
import { registerClusterCommands } from './cluster.js';

const collect = (v: string, prev: string[]) => [...prev, ...v.split(',').filter(Boolean)];

/** A standalone control-plane component: remote kubeconfig, leader election on its Lease, logging. */
function componentCommand(program: Command, name: string, lease: string): Command {
  return withLogFlags(withLeaderElectFlags(withKubeconfigFlags(program.command(name)), lease));
}

export async function main(argv: string[]): Promise<void> {
  // Positional options: `k8ts --version` is the program's, `k8ts chart package --version 1.2.3` the subcommand's.
  const program = new Command('k8ts')
    .description('A Kubernetes-compatible container orchestrator')
    .version('0.1.0')
    .enablePositionalOptions();

  addSimFlags(
    addAgentFlags(
      withLogFlags(
        addAuthenticationFlags(addIngressFlags(addSyncConcurrencyOptions(program.command('server')), 'server'))
          .description('Run the API server with its embedded datastore (and the control plane)')
          .option(
            '--data-dir <dir>',
            'where state, certificates and the kubeconfig live (default /var/lib/k8ts as root, ~/.k8ts otherwise)',
          )
          .option('--https-listen-port <port>', 'HTTPS port of the API server', '6443')
          .option('--bind-address <ip>', 'address the API server listens on', '127.0.0.1')
          .option('--write-kubeconfig <path>', 'where to write the admin kubeconfig (default DATA/kubeconfig.yaml)')
          .option('--write-kubeconfig-mode <mode>', 'file mode of the kubeconfig, octal (default 600)')
          .option(
            '--datastore-endpoint <url>',
            'datastore: empty for embedded SQLite, sqlite:///path.db, or etcd: https://host:2379[,https://host2:2379…] (or http://)',
          )
          .option('--datastore-cafile <file>', 'CA bundle that verifies the etcd servers (https endpoints)')
          .option('--datastore-certfile <file>', 'client certificate presented to etcd')
          .option('--datastore-keyfile <file>', 'private key of --datastore-certfile')
          .option(
            '--encryption-provider-config <file>',
            'EncryptionConfiguration (apiserver.config.k8s.io/v1) for encryption at rest (default: an aescbc key for Secrets, DATA/server/cred/encryption-config.json)',
          )
          .option(
            '--secrets-encryption [bool]',
            'encrypt Secrets at rest with the generated key (--secrets-encryption=false: off)',
            'true',
          )
          .option('--etcd-prefix <prefix>', 'etcd: the key prefix every object is stored under', '/registry')
          .option(
            '--etcd-compaction-interval <duration>',
            'etcd: compact history this often, keeping one interval of it (older resourceVersions get 410 Gone)',
            '5m',
          )
          .option('--event-ttl <duration>', 'etcd: Events are deleted this long after their last write', '1h')
          .option('--cluster-init', 'run a managed etcd member and start a new cluster of it (docs/datastore.md)')
          .addOption(
            new Option(
              '--server <url>',
              'join the server at this URL (with --token) as another server and managed etcd member',
            ).env('K8TS_URL'),
          )
          .option('--cluster-reset', 'managed etcd: make this member a cluster of one, keeping its data, then exit')
          .option('--cluster-reset-restore-path <file>', 'with --cluster-reset: restore this etcd snapshot first')
          .option('--etcd-client-port <port>', 'managed etcd: client port (on --node-ip)', '2379')
          .option('--etcd-peer-port <port>', 'managed etcd: peer port (on --node-ip)', '2380')
          .option(
            '--etcd-snapshot-schedule-cron <spec>',
            'managed etcd: take snapshots at these times (5-field cron)',
            '0 */12 * * *',
          )
          .option('--etcd-snapshot-retention <n>', 'managed etcd: scheduled snapshots kept', '5')
          .option('--etcd-snapshot-dir <dir>', 'managed etcd: where snapshots go (default DATA/server/db/snapshots)')
          .option('--etcd-disable-snapshots', 'managed etcd: take no scheduled snapshots')
          .option('--service-cidr <cidr>', 'range of Service cluster IPs', '10.43.0.0/16')
          .option('--service-node-port-range <range>', 'range of NodePorts', '30000-32767')
          .option('--cluster-domain <domain>', 'cluster DNS domain', 'cluster.local')
          .option('--request-timeout <duration>', 'deadline of requests that are not long-running (504 past it)', '60s')
          .option(
            '--authorization-mode <modes>',
            'authorizers in order, comma-separated: Node, RBAC, AlwaysAllow, AlwaysDeny (system:masters is always allowed)',
            'Node,RBAC',
          )
          .option(
            '--admission-control-config-file <file>',
            "AdmissionConfiguration with the admission plugins' settings (PodSecurity: defaults and exemptions)",
          )
          .option(
            '--audit-policy-file <file>',
            'audit.k8s.io/v1 Policy: which requests the audit log records, and how much',
          )
          .option('--audit-log-path <file>', "where audit events go, as JSON lines ('-': standard output)")
          .option('--audit-log-maxage <days>', 'days to keep rotated audit logs (0: no limit)', '0')
          .option('--audit-log-maxbackup <n>', 'rotated audit logs to keep (0: no limit)', '0')
          .option('--audit-log-maxsize <MB>', 'size at which the audit log is rotated (0: 100 MB)', '0')
          .option('--max-requests-inflight <n>', 'concurrent non-mutating requests before 429 (0: no limit)', '400')
          .option(
            '--enable-priority-and-fairness [bool]',
            'API Priority and Fairness (FlowSchemas, priority levels, fair queuing); false: the max-in-flight filter',
          )
          .option(
            '--max-mutating-requests-inflight <n>',
            'concurrent mutating requests before 429 (0: no limit)',
            '200',
          )
          .option('--http2-max-streams-per-connection <n>', 'concurrent HTTP/2 streams per client connection', '100')
          .option(
            '--advertise-address <ip>',
            "address other servers, agents and pods reach this server at: the `kubernetes` Service's endpoint (default: --node-ip, else --bind-address, else the host's)",
          )
          .option(
            '--tls-san <names>',
            'extra hostnames or IPs for the serving certificate (repeatable, comma-separated)',
            collect,
            [],
          )
          .option(
            '--cluster-cidr <cidr>',
            'range of pod IPs; node IPAM gives each node a /24 of it (IPV4,IPV6: dual-stack pods, a /64 each)',
            '10.42.0.0/16',
          )
          .option(
            '--flannel-backend <backend>',
            'how pod traffic crosses between nodes, for the whole cluster (agents follow their server): vxlan (an overlay over UDP 8472), host-gw (routes; nodes on one L2 network) or none',
            'vxlan',
          )
          .option(
            '--lb-address-pool <cidr>',
            'LoadBalancer Services get an address of these CIDRs, announced by one node (MetalLB layer 2; repeatable, comma-separated; default: the node addresses)',
            collect,
            [],
          )
          .option('--disable-scheduler', 'do not run the scheduler in this process (run `k8ts scheduler` instead)')
          .option(
            '--scheduler-thread [bool]',
            "run the in-process scheduler on a worker thread of its own; false: on the API server's event loop",
            'true',
          )
          .option(
            '--disable-controller-manager',
            'do not run the controller manager in this process (run `k8ts controller-manager` instead)',
          )
          .option(
            '--simulated-nodes <n>',
            'run N simulated nodes in this process (see docs/simulation.md and the --sim-* flags)',
            '0',
          )
          .option('--node-cidr-mask-size <bits>', 'size of the podCIDR node IPAM gives each node', '24')
          .option(
            '--node-monitor-grace-period <duration>',
            'a node not heard from this long is marked Unknown and tainted unreachable',
            '40s',
          )
          .option(
            '--node-monitor-period <duration>',
            'how often the node lifecycle controller checks node health',
            '5s',
          )
          .option('--node-startup-grace-period <duration>', 'grace period for a node that never reported status', '60s')
          .option('--disable-agent', 'run no node agent on this host (control plane only)')
          .option('--disable-dashboard', 'serve no web dashboard at /dashboard/ (docs/dashboard.md)')
          .option(
            '--disable <name>',
            'do not deploy DATA/server/manifests/NAME.yaml (and remove what it deployed); repeatable',
            collect,
            [],
          )
          .option('--disable-helm-controller', 'run no HelmChart controller and no auto-deployed manifests')
          .addOption(
            new Option(
              '--token <secret>',
              'join secret (or full K10 token) agents use; default: the stored one, else a random one (written to DATA/server/token)',
            ).env('K8TS_TOKEN'),
          )
          .addOption(
            new Option(
              '--agent-token <secret>',
              'a second join secret that joins agents but not servers (written to DATA/server/agent-token)',
            ).env('K8TS_AGENT_TOKEN'),
          ),
      ).action(async (opts) => {
        const { runServer } = await import('./server.js');
        await runServer(opts);
      }),
    ),
  );

  addAgentFlags(
    withLogFlags(
      addIngressFlags(program.command('agent'), 'agent')
        .description('Run a node agent on this machine and join it to a k8ts server')
        .addOption(
          new Option('--server <url>', 'URL of the k8ts server to join, e.g. https://10.0.0.1:6443').env('K8TS_URL'),
        )
        .addOption(
          new Option('--token <token>', 'join token: the content of <server data dir>/server/token').env('K8TS_TOKEN'),
        )
        .addOption(new Option('--token-file <file>', 'read the join token from this file').env('K8TS_TOKEN_FILE'))
        .option(
          '--data-dir <dir>',
          'where the agent keeps certificates, pods and images (default /var/lib/k8ts as root, ~/.k8ts otherwise)',
        )
        .option(
          '--node-label <key=value>',
          'label to register the node with (repeatable, comma-separated)',
          collect,
          [],
        )
        .option(
          '--cluster-cidr <cidr>',
          "the cluster's pod range (the server's --cluster-cidr): the service proxy masquerades traffic to cluster IPs from outside it",
        )
        .option('--cluster-domain <domain>', "cluster DNS domain (default: the server's, else cluster.local)")
        .option(
          '--rotate-certificates [bool]',
          'renew the client certificate through CertificateSigningRequests before it expires, as the kubelet does (false: keep it until a restart renews it with the token)',
          'true',
        ),
    ).action(async (opts) => {
      const { runAgent } = await import('./join.js');
      await runAgent(opts);
    }),
  );

  addSimFlags(
    withLogFlags(
      withKubeconfigFlags(program.command('sim').description('Run simulated nodes (kwok-like) against an API server')),
      false,
    )
      .requiredOption('--nodes <n>', 'how many nodes to simulate')
      .action(async (opts) => {
        const { runSim } = await import('../sim/cli.js');
        await runSim(opts);
      }),
  );

  componentCommand(program, 'scheduler', 'kube-scheduler')
    .description('Run the scheduler alone against an API server (leader-elected, for HA)')
    .option('--scheduler-name <name>', 'schedule pods whose spec.schedulerName is this', 'default-scheduler')
    .option(
      '--percentage-of-nodes-to-score <pct>',
      'share of nodes to find feasible before scoring (0: adaptive, as upstream)',
      '0',
    )
    .action(async (opts) => {
      const { runScheduler } = await import('./scheduler.js');
      runScheduler(opts);
    });

  addSyncConcurrencyOptions(componentCommand(program, 'controller-manager', 'kube-controller-manager'))
    .description('Run the controller manager alone against an API server (leader-elected, for HA)')
    .option('--controllers <list>', "controllers to run: '*' for all, 'foo' to enable, '-foo' to disable", '*')
    .option(
      '--terminated-pod-gc-threshold <n>',
      'terminated pods kept before the pod GC deletes the oldest (0 disables)',
      '12500',
    )
    .option(
      '--cluster-cidr <cidr>',
      'range of pod IPs the node IPAM controller hands out (default 10.42.0.0/16, as k8ts server)',
    )
    .option(
      '--lb-address-pool <cidr>',
      'LoadBalancer Services get an address of these CIDRs (as k8ts server; repeatable, comma-separated)',
      collect,
      [],
    )
    .option('--root-ca-file <file>', 'CA published in every namespace as kube-root-ca.crt (default: the kubeconfig CA)')
    .option(
      '--service-account-private-key-file <file>',
      'key that signs the tokens of kubernetes.io/service-account-token Secrets (without it they stay empty)',
    )
    .option(
      '--use-service-account-credentials',
      'run each controller as its own service account in kube-system, with a token from a TokenRequest',
      false,
    )
    .action(async (opts) => {
      const { runControllerManager } = await import('./controllermanager.js');
      await runControllerManager(opts);
    });

  program
    .command('kubectl')
    .description("Run kubectl against this machine's k8ts server (uses DATA/kubeconfig.yaml)")
    .allowUnknownOption(true)
    .helpOption(false)
    .argument('[args...]')
    .action((args: string[]) => {
      const kubeconfig =
        process.env.KUBECONFIG ?? join(process.env.K8TS_DATA_DIR ?? defaultDataDir(), 'kubeconfig.yaml');
      if (!existsSync(kubeconfig)) {
        process.stderr.write(`k8ts: no kubeconfig at ${kubeconfig}; is \`k8ts server\` running?\n`);
        process.exit(1);
      }
      const r = spawnSync('kubectl', args, { stdio: 'inherit', env: { ...process.env, KUBECONFIG: kubeconfig } });
      process.exit(r.status ?? 1);
    });

  registerImageCommands(program);
  registerDevicePluginCommand(program);
  registerChartCommands(program);
  registerSecretsEncryptCommand(program);
  registerEtcdSnapshotCommand(program);
  registerDatastoreCommand(program);
  registerTokenCommand(program);
  registerDashboardCommands(program);
  registerComposeCommands(program);
  registerRolloutCommands(program);
  registerClusterCommands(program);

  program
    .command('killall')
    .description(
      "Stop every container of this host's agent, its containerd and pod network (the cluster's objects are kept)",
    )
    .option('--data-dir <dir>', 'data dir of the server or agent (default /var/lib/k8ts as root, ~/.k8ts otherwise)')
    .action(async (opts) => {
      const { killall } = await import('./killall.js');
      await killall(opts);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    process.stderr.write(`k8ts: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

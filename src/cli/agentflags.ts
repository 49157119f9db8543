// The node agent's flags, shared by `k8ts server` (its own host's agent) and `k8ts agent`
// (joining another machine). Defining them loads nothing heavy; agentoptions.ts turns the values
// into NodeAgent options when a command runs.
import { Command, Option } from 'commander';
import { PROXY_MODES, SCHEDULERS } from '../proxy/model.js';

const collect = (v: string, prev: string[]) => [...prev, ...v.split(',').filter(Boolean)];

export interface AgentFlags {
  nodeName?: string;
  nodeIp?: string;
  runtime?: string;
  containerRuntimeEndpoint?: string;
  privateRegistry?: string;
  clusterDns?: string[];
  /** --resolv-conf: the host resolvers the cluster DNS forwards to and dnsPolicy Default pods get. */
  resolvConf?: string;
  /** The server's --service-cidr (only `k8ts server` has it): --cluster-dns defaults to its 10th address. */
  serviceCidr?: string;
  evictionHard?: string;
  podMaxPids?: string;
  kubeletPort?: string;
  disableKubeProxy?: boolean;
  disableNetworkPolicy?: boolean;
  proxyMode?: string;
  lbScheduler?: string;
  /** The pod range (the server's --cluster-cidr; `k8ts agent --cluster-cidr`). */
  clusterCidr?: string;
  podLogDir?: string;
  containerLogMaxSize?: string;
  containerLogMaxFiles?: string;
  logSink?: string[];
}

export function addAgentFlags(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--node-name <name>', "name of this host's node (default: the hostname)").env('K8TS_NODE_NAME'),
    )
    .option('--node-ip <ip>', "InternalIP of this host's node (default: the first non-loopback IPv4 address)")
    .addOption(
      new Option(
        '--runtime <name>',
        'container runtime: containerd (k8ts starts its own), process (host processes, not isolated), or auto',
      )
        .choices(['auto', 'containerd', 'process'])
        .default('auto'),
    )
    .option('--container-runtime-endpoint <socket>', 'use this CRI socket instead of starting containerd')
    .option(
      '--private-registry <file>',
      'registries.yaml (k3s format): registry mirrors, credentials and TLS (default: <data-dir>/registries.yaml if it exists; see docs/registries.md)',
    )
    .option(
      '--cluster-dns <ips>',
      'cluster DNS address pods use (the kube-dns Service IP; comma-separated); default: the 10th address of the service CIDR, 10.43.0.10',
      collect,
      [],
    )
    .option(
      '--resolv-conf <file>',
      "resolv.conf whose nameservers the cluster DNS forwards other names to (`forward . /etc/resolv.conf`) and dnsPolicy Default pods get, as the kubelet's --resolv-conf",
      '/etc/resolv.conf',
    )
    .option(
      '--eviction-hard <thresholds>',
      'node-pressure eviction thresholds (default: memory.available<100Mi,nodefs.available<10%,nodefs.inodesFree<5%,imagefs.available<15%)',
    )
    .option('--pod-max-pids <n>', 'most processes one pod may run (-1: unlimited)', '-1')
    .option(
      '--kubelet-port <port>',
      "port of the node agent's HTTPS server (logs, exec, port-forward); 0 picks a free one",
      '10250',
    )
    .option(
      '--disable-kube-proxy',
      'run no service proxy on this node (ClusterIPs and NodePorts are then not served here)',
    )
    .option('--disable-network-policy', 'enforce no NetworkPolicies on this node (docs/networking.md)')
    .addOption(
      new Option(
        '--proxy-mode <mode>',
        'service proxy mode (docs/networking.md): nftables, iptables, userspace, or auto (nftables as root with nft, else userspace)',
      )
        .choices([...PROXY_MODES])
        .default('auto'),
    )
    .addOption(
      new Option(
        '--lb-scheduler <name>',
        `default scheduler of the service proxy (IPVS names, each mode doing what it can: docs/networking.md; per Service: annotation k8ts.io/lb-scheduler)`,
      )
        .choices([...SCHEDULERS])
        .default('rr'),
    )
    .option(
      '--pod-log-dir <dir>',
      'container logs in the kubelet layout (pods/, containers/) go here (default <data-dir>/agent/logs; /var/log gives collectors the host paths they expect; docs/monitoring.md)',
    )
    .option('--container-log-max-size <size>', 'rotate a container log at this size (quantity, e.g. 10Mi)', '10Mi')
    .option('--container-log-max-files <n>', 'log files kept per container, the live one included (at least 2)', '5')
    .option(
      '--log-sink <sink>',
      'ship every container log line (and, on k8ts server, every event) to jsonl:PATH, elasticsearch:URL[#index] or loki:URL; repeatable (docs/monitoring.md)',
      (v: string, prev: string[]) => [...prev, v],
      [],
    );
}

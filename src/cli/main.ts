// The k8ts command line.
import { Command, Option } from 'commander';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runServer, defaultDataDir } from './server.js';

const collect = (v: string, prev: string[]) => [...prev, ...v.split(',').filter(Boolean)];

export async function main(argv: string[]): Promise<void> {
  const program = new Command('k8ts').description('A Kubernetes-compatible container orchestrator').version('0.1.0');

  program
    .command('server')
    .description('Run the API server with its embedded datastore (and the control plane)')
    .option('--data-dir <dir>', 'where state, certificates and the kubeconfig live (default /var/lib/k8ts as root, ~/.k8ts otherwise)')
    .option('--https-listen-port <port>', 'HTTPS port of the API server', '6443')
    .option('--bind-address <ip>', 'address the API server listens on', '127.0.0.1')
    .option('--write-kubeconfig <path>', 'where to write the admin kubeconfig (default DATA/kubeconfig.yaml)')
    .option('--write-kubeconfig-mode <mode>', 'file mode of the kubeconfig, octal (default 600)')
    .option('--datastore-endpoint <url>', 'datastore: empty for embedded SQLite, or sqlite:///path.db')
    .option('--service-cidr <cidr>', 'range of Service cluster IPs', '10.43.0.0/16')
    .option('--service-node-port-range <range>', 'range of NodePorts', '30000-32767')
    .option('--cluster-domain <domain>', 'cluster DNS domain', 'cluster.local')
    .option('--tls-san <names>', 'extra hostnames or IPs for the serving certificate (repeatable, comma-separated)', collect, [])
    .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'))
    .option('-v, --v <n>', 'upstream-style verbosity (>=4 debug, >=6 trace)')
    .action(async (opts) => {
      if (opts.v !== undefined) opts.logLevel = Number(opts.v) >= 6 ? 'trace' : Number(opts.v) >= 4 ? 'debug' : opts.logLevel;
      await runServer(opts);
    });

  program
    .command('kubectl')
    .description('Run kubectl against this machine\'s k8ts server (uses DATA/kubeconfig.yaml)')
    .allowUnknownOption(true)
    .helpOption(false)
    .argument('[args...]')
    .action((args: string[]) => {
      const kubeconfig = process.env.KUBECONFIG ?? join(process.env.K8TS_DATA_DIR ?? defaultDataDir(), 'kubeconfig.yaml');
      if (!existsSync(kubeconfig)) {
        process.stderr.write(`k8ts: no kubeconfig at ${kubeconfig}; is \`k8ts server\` running?\n`);
        process.exit(1);
      }
      const r = spawnSync('kubectl', args, { stdio: 'inherit', env: { ...process.env, KUBECONFIG: kubeconfig } });
      process.exit(r.status ?? 1);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    process.stderr.write(`k8ts: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

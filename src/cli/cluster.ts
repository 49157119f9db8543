// `k8ts cluster up|remove -f cluster.yml`: a cluster on machines reached over SSH, from a file in
// the shape of RKE's cluster.yml (src/provision, docs/cluster-yml.md).
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ClusterFlags {
  file: string;
}

/** The k8ts package this command runs from (dist/src/cli/ -> the package root): copied by default. */
function ownPackage(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

async function load(flags: ClusterFlags) {
  const { parseClusterConfig } = await import('../provision/config.js');
  const path = resolve(flags.file);
  if (!existsSync(path)) throw new Error(`no cluster file at ${path} (use -f)`);
  return { path, cfg: parseClusterConfig(readFileSync(path, 'utf8'), dirname(path), ownPackage()) };
}

const log = (msg: string) => process.stderr.write(`${new Date().toISOString()} ${msg}\n`);

export function registerClusterCommands(program: Command): void {
  const cluster = program
    .command('cluster')
    .description('Provision a cluster on machines reached over SSH, from cluster.yml (RKE-style; docs/cluster-yml.md)');
  cluster
    .command('up')
    .description(
      'Install and start k8ts on every node of the file, or reconcile: join new nodes, remove dropped ones, upgrade changed ones one at a time',
    )
    .option('-f, --file <file>', 'the cluster file', 'cluster.yml')
    .action(async (flags: ClusterFlags) => {
      const { provision } = await import('../provision/up.js');
      const { path, cfg } = await load(flags);
      await provision('up', cfg, { configPath: path, log });
    });
  cluster
    .command('remove')
    .description('Stop k8ts on every node of the file (and of the state file), remove its data and what it installed')
    .option('-f, --file <file>', 'the cluster file', 'cluster.yml')
    .action(async (flags: ClusterFlags) => {
      const { provision } = await import('../provision/up.js');
      const { path, cfg } = await load(flags);
      await provision('remove', cfg, { configPath: path, log });
    });
}

// `k8ts compose convert|up|down`: a Compose file as Kubernetes objects (src/compose).
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const DEFAULT_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];

interface ComposeFlags {
  file?: string[];
  profile?: string[];
  projectName?: string;
  namespace?: string;
  serviceType: string;
  waitImage?: string;
  volumeSize?: string;
  kubeconfig?: string;
  volumes?: boolean;
}

async function load(flags: ComposeFlags) {
  const { parseComposeFiles } = await import('../compose/load.js');
  const { convertProject } = await import('../compose/convert.js');
  const fallback = DEFAULT_FILES.find((f) => existsSync(f));
  const files = flags.file ?? (fallback ? [fallback] : []);
  if (files.length === 0) throw new Error(`no Compose file: none of ${DEFAULT_FILES.join(', ')} here (use -f)`);
  const project = parseComposeFiles(
    files.map((path) => ({ path, text: readFileSync(path, 'utf8') })),
    { projectName: flags.projectName, profiles: flags.profile },
  );
  const type = flags.serviceType;
  if (type !== 'ClusterIP' && type !== 'NodePort' && type !== 'LoadBalancer')
    throw new Error(`--service-type must be ClusterIP, NodePort or LoadBalancer, not "${type}"`);
  const conversion = convertProject(project, {
    serviceType: type,
    namespace: flags.namespace,
    waitImage: flags.waitImage,
    volumeSize: flags.volumeSize,
  });
  for (const w of conversion.warnings) process.stderr.write(`WARN ${w}\n`);
  return { project, ...conversion };
}

async function client(flags: ComposeFlags) {
  const { Client } = await import('../client/client.js');
  const { defaultDataDir } = await import('./datadir.js');
  const path =
    flags.kubeconfig ??
    process.env.KUBECONFIG ??
    join(process.env.K8TS_DATA_DIR ?? defaultDataDir(), 'kubeconfig.yaml');
  if (!existsSync(path)) throw new Error(`no kubeconfig at ${path}; is \`k8ts server\` running?`);
  return Client.fromKubeconfig(path, { fieldManager: 'k8ts-compose' });
}

function common(cmd: Command): Command {
  return cmd
    .option(
      '-f, --file <file>',
      `Compose file, repeatable: later files override earlier ones (default: ${DEFAULT_FILES.join(', ')})`,
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option(
      '--profile <name>',
      'enable services of this profile, repeatable (default: $COMPOSE_PROFILES)',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option('-p, --project-name <name>', "project name (default: the file's name: key, else its directory)")
    .option('-n, --namespace <ns>', 'namespace of the objects (default: default; convert: none set)')
    .option(
      '--service-type <type>',
      'Service type of published ports: ClusterIP, NodePort (the published port when in range) or LoadBalancer',
      'ClusterIP',
    )
    .option(
      '--wait-image <image>',
      'image of the init containers that wait for depends_on (needs sh and nc)',
      'busybox:1.36',
    )
    .option('--volume-size <size>', 'size of PVCs for named volumes without driver_opts.size', '1Gi');
}

export function registerComposeCommands(program: Command): void {
  const compose = program.command('compose').description('Run Compose files on the cluster (docs/compose.md)');
  common(compose.command('convert'))
    .description('Print the Kubernetes objects a Compose file becomes')
    .action(async (flags: ComposeFlags) => {
      const { manifestsYaml } = await import('../compose/convert.js');
      const { objects } = await load(flags);
      process.stdout.write(manifestsYaml(objects));
    });
  common(compose.command('up'))
    .description('Create or update the objects of a Compose file (server-side apply)')
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, else DATA/kubeconfig.yaml)')
    .action(async (flags: ComposeFlags) => {
      const { composeUp } = await import('../compose/cluster.js');
      const { objects } = await load(flags);
      const c = await client(flags);
      try {
        await composeUp(c, objects, flags.namespace ?? 'default', (l) => process.stdout.write(`${l}\n`));
      } finally {
        await c.close();
      }
    });
  common(compose.command('down'))
    .description("Delete the project's objects (named volumes too with -v)")
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, else DATA/kubeconfig.yaml)')
    .option('-v, --volumes', 'also delete the PVCs of named volumes')
    .action(async (flags: ComposeFlags) => {
      const { composeDown } = await import('../compose/cluster.js');
      const { project } = await load(flags);
      const c = await client(flags);
      try {
        await composeDown(c, project.name, flags.namespace ?? 'default', { volumes: flags.volumes === true }, (l) =>
          process.stdout.write(`${l}\n`),
        );
      } finally {
        await c.close();
      }
    });
}

// `k8ts device-plugin sample`: runs the sample device plugin (src/agent/devices/sample.ts) against
// the node agent of a data dir, so extended resources can be tried and tested without hardware.
// SIGUSR1 marks the highest-numbered healthy device unhealthy, SIGUSR2 makes all healthy again.
import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { defaultDataDir } from './datadir.js';

export function registerDevicePluginCommand(program: Command): void {
  const dp = program.command('device-plugin').description('Run a device plugin for the node agent on this host');
  dp.command('sample')
    .description('Advertise N made-up devices of an extended resource (each a host directory) to the node agent')
    .option('--resource <name>', 'extended resource name', 'example.com/widget')
    .option('--count <n>', 'how many devices', '4')
    .option('--data-dir <dir>', 'data dir of the server or agent (default /var/lib/k8ts as root, ~/.k8ts otherwise)')
    .action(async (opts) => {
      const { PLUGIN_DIR_NAME, isExtendedResourceName } = await import('../agent/devices/api.js');
      const count = Number(opts.count);
      if (!Number.isInteger(count) || count < 0) throw new Error(`--count must be a whole number, not "${opts.count}"`);
      if (!isExtendedResourceName(opts.resource))
        throw new Error(`--resource "${opts.resource}" is not an extended resource name (like example.com/widget)`);
      const dataDir = resolve(opts.dataDir ?? process.env.K8TS_DATA_DIR ?? defaultDataDir());
      const { SamplePlugin } = await import('../agent/devices/sample.js');
      const log = (msg: string) => process.stderr.write(`k8ts device-plugin: ${msg}\n`);
      const plugin = new SamplePlugin({
        pluginDir: join(dataDir, 'agent', PLUGIN_DIR_NAME),
        resource: opts.resource,
        count,
        log,
      });
      await plugin.start();
      process.stdout.write(
        `k8ts device-plugin: serving ${count} ${opts.resource} devices on ${plugin.socket} (pid ${process.pid})\n`,
      );
      process.on('SIGUSR1', () => {
        const d = [...plugin.devices].reverse().find((x) => x.health === 'Healthy');
        if (d) {
          plugin.setHealth(d.id, false);
          log(`${d.id} is now unhealthy`);
        }
      });
      process.on('SIGUSR2', () => {
        for (const d of plugin.devices) plugin.setHealth(d.id, true);
        log('all devices are healthy');
      });
      await new Promise<void>((done) => {
        const quit = () => void plugin.stop().finally(done);
        process.once('SIGTERM', quit);
        process.once('SIGINT', quit);
      });
      process.exit(0);
    });
}

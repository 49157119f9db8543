// The server's Helm side, as k3s runs it: the HelmChart controller and the manifests deployer.
import type { Logger } from 'pino';
import type { Client } from '../../client/client.js';
import { HelmChartController } from './controller.js';
import { ManifestsDeployer } from './manifests.js';

export async function startHelmControllers(
  client: Client,
  logger: Logger,
  opts: { manifestsDir?: string; disable?: string[] },
): Promise<{ stop(): Promise<void> }> {
  const controller = new HelmChartController(client, logger.child({ component: 'helm-controller' }));
  // The CRDs must be served before a manifest file holding a HelmChart is applied.
  await controller.start();
  const deployer = opts.manifestsDir
    ? new ManifestsDeployer(
        client,
        { dir: opts.manifestsDir, disable: opts.disable },
        logger.child({ component: 'deploy' }),
      )
    : undefined;
  deployer?.start();
  return {
    async stop() {
      await deployer?.stop();
      await controller.stop();
    },
  };
}

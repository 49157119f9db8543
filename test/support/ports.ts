// A port nothing listens on now, for servers a test must start on a known port (a child process
// that takes `-p PORT`, a config file). Another process could take it before the test does; the
// kernel hands out ephemeral ports in turn, so that is rare, unlike fixed ports shared by runs.
import { createServer } from 'node:net';

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

// Runs Chromium in the network namespace it is started in (a new one, made by `unshare --net` in
// browser.ts), after bringing its loopback up and relaying each given loopback port to a Unix
// socket that the test process relays on to the server's port on the host. Chromium inherits the
// DevTools pipe (fds 3 and 4) that Playwright drives it through; this process ends with it.
//   node browsernetns.js '<JSON [{port, socket}]>' <chromium> <chromium args...>
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { listening, relayServer } from './browser.js';

async function main() {
  const [spec, chromium, ...args] = process.argv.slice(2);
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  for (const { port, socket } of JSON.parse(spec) as { port: number; socket: string }[])
    await listening(
      relayServer(() => net.connect(socket)),
      port,
    );
  const child = spawn(chromium, args, { stdio: ['inherit', 'inherit', 'inherit', 3, 4] });
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

main().catch((err: unknown) => {
  process.stderr.write(`browsernetns: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

// Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) for the dashboard's
// end-to-end tests and benchmark: a fresh profile each time, nothing fetched in the background.
//
// Chromium closes every connection, failing the requests under way with ERR_NETWORK_CHANGED
// ("Failed to fetch"), whenever the host's interfaces or addresses change, and on a test machine
// they change all the time: every pod started or removed (by the cluster under test or by any
// other test running beside it) adds or removes a veth. So the browser runs, when it can (as
// root, with unshare), in a network namespace of its own, as a user's browser on another machine
// would: it has only a loopback, and the servers it is given are relayed to it on the same
// loopback ports (through a Unix socket; see browsernetns.ts).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';

export const CHROMIUM = process.env.K8TS_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here (undefined: they can). */
export function chromiumUnavailable(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is not installed (apt-get install chromium)`;
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Why Chromium can't have a network namespace of its own here (undefined: it can). */
function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  try {
    execFileSync('unshare', ['--net', '--', 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return `unshare --net failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** A server that relays each connection it accepts to one `connect` makes, both ways. */
export function relayServer(connect: () => net.Socket): net.Server {
  return net.createServer((c) => {
    const s = connect();
    c.pipe(s).pipe(c);
    for (const [a, b] of [
      [c, s],
      [s, c],
    ]) {
      a.on('error', () => b.destroy());
      a.on('close', () => b.destroy());
    }
  });
}

/** `server` listening on `at` (a port on 127.0.0.1, or a Unix socket's path). */
export function listening(server: net.Server, at: number | string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    if (typeof at === 'number') server.listen(at, '127.0.0.1', () => resolve(server));
    else server.listen(at, () => resolve(server));
  });
}

/**
 * Starts Chromium. `servers` are the https://127.0.0.1:PORT addresses the pages will open: with
 * them, Chromium runs in a network namespace of its own that reaches just those (see the top).
 */
export async function launchChromium(opts: { servers?: string[] } = {}): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'k8ts-chromium-'));
  const relays: net.Server[] = [];
  let executablePath = CHROMIUM;
  const servers = opts.servers ?? [];
  const why = servers.length ? netnsUnavailable() : 'no servers given';
  if (why === undefined) {
    const spec: { port: number; socket: string }[] = [];
    for (const server of servers) {
      const url = new URL(server);
      if (url.hostname !== '127.0.0.1') throw new Error(`launchChromium: ${server} is not on 127.0.0.1`);
      const port = Number(url.port);
      const socket = join(profile, `relay-${port}.sock`);
      // (the server the namespaced browser reaches on that port)
      relays.push(
        await listening(
          relayServer(() => net.connect(port, '127.0.0.1')),
          socket,
        ),
      );
      spec.push({ port, socket });
    }
    const script = fileURLToPath(new URL('./browsernetns.js', import.meta.url));
    executablePath = join(profile, 'chromium-netns');
    const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    writeFileSync(
      executablePath,
      `#!/bin/sh\nexec unshare --net -- ${[process.execPath, script, JSON.stringify(spec), CHROMIUM].map(quote).join(' ')} "$@"\n`,
      { mode: 0o755 },
    );
  } else if (servers.length) {
    console.log(`# Chromium shares the host's network (${why}): requests may fail with ERR_NETWORK_CHANGED`);
  }
  const removeAll = () => {
    for (const r of relays) r.close();
    rmSync(profile, { recursive: true, force: true });
  };
  const context = await chromium
    .launchPersistentContext(join(profile, 'profile'), {
      executablePath,
      headless: true,
      // The cluster's CA is its own: the test trusts it as a user who accepted it would.
      ignoreHTTPSErrors: true,
      viewport: { width: 1400, height: 900 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    })
    .catch((err: unknown) => {
      removeAll();
      throw err;
    });
  return {
    context,
    async close() {
      await context.close();
      removeAll();
    },
  };
}

/** Opens the dashboard in a new tab (its own sessionStorage) and signs in with `token`. */
export async function signIn(browser: Browser, url: string, token: string): Promise<Page> {
  const page = await browser.context.newPage();
  await page.goto(`${url}/dashboard/`);
  await page.fill('textarea[name=token]', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=user]');
  return page;
}

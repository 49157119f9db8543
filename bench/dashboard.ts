// The dashboard's first render of a namespace with 1,000 pods, in headless Chromium (Debian's
// chromium through playwright-core, as the e2e tests run it). Two measures, each repeated:
//   cold:       a new tab opening /dashboard/#/list/core/v1/pods/NS (already signed in) until the
//               table shows every pod: page load, scripts, discovery, the Table list, React render;
//   navigation: from the overview, following the link to the pods list until every row is there.
// The server runs no agent (pods stay Pending, which is all a list needs).
//   npm run bench:dashboard   (DASHBOARD_PODS, DASHBOARD_RUNS, BENCH_OUT)
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cpus } from 'node:os';
import { pct, pick, repo } from './common.js';

const PODS = pick('DASHBOARD_PODS', 1000, 200);
const RUNS = pick('DASHBOARD_RUNS', 7, 3);
const NS = 'bench';
const OUT = process.env.BENCH_OUT ?? join(repo, 'bench', 'results', 'dashboard.json');

/**
 * What the functions run in the page use of it (this project compiles without the DOM's types;
 * these functions only run in the browser).
 */
interface PageGlobals {
  document: { querySelectorAll(selector: string): { length: number } };
  MutationObserver: new (callback: () => void) => {
    observe(target: unknown, options: { childList: boolean; subtree: boolean }): void;
    disconnect(): void;
  };
  sessionStorage: { setItem(key: string, value: string): void };
  location: { hash: string };
  renderedAt?: number;
  performance: {
    getEntriesByType(type: string): { name: string; startTime: number; responseEnd: number; duration: number }[];
  };
}

/** In the page: when (ms since navigation) the scripts had arrived and the pods' Table list had. */
function milestones(namespace: string) {
  const entries = (globalThis as unknown as PageGlobals).performance.getEntriesByType('resource');
  const end = (match: (name: string) => boolean) =>
    Math.max(0, ...entries.filter((e) => match(e.name)).map((e) => e.responseEnd));
  return {
    scriptsMs: end((n) => n.includes('/dashboard/assets/')),
    listStartMs: Math.max(
      0,
      ...entries.filter((e) => e.name.includes(`/namespaces/${namespace}/pods`)).map((e) => e.startTime),
    ),
    listMs: end((n) => n.includes(`/namespaces/${namespace}/pods`)),
  };
}

/** In the page: the time (performance.now(), ms since navigation) when the table first had `n` rows. */
function watchForRows(n: number) {
  const w = globalThis as unknown as PageGlobals;
  const check = () => {
    if (w.renderedAt === undefined && w.document.querySelectorAll('[data-testid=resource-table] tbody tr').length >= n)
      w.renderedAt = performance.now();
  };
  new w.MutationObserver(check).observe(w.document, { childList: true, subtree: true });
}

async function main() {
  const { startCluster, run, K8TS_BIN } = await import('../test/e2e/harness.js');
  const { rawClient } = await import('../test/e2e/rawclient.js');
  const { launchChromium, signIn } = await import('../test/e2e/browser.js');
  const c = await startCluster({ args: ['--disable-scheduler'] });
  const browser = await launchChromium();
  try {
    const raw = rawClient(c.kubeconfig);
    await raw.json('POST', '/api/v1/namespaces', { metadata: { name: NS } });
    const started = Date.now();
    for (let i = 0; i < PODS; i += 50)
      await Promise.all(
        Array.from({ length: Math.min(50, PODS - i) }, (_, j) =>
          raw.json('POST', `/api/v1/namespaces/${NS}/pods`, {
            metadata: {
              name: `pod-${String(i + j).padStart(5, '0')}`,
              labels: { app: 'bench', shard: String((i + j) % 10) },
            },
            spec: { containers: [{ name: 'main', image: 'k8ts.local/busybox:1.35', command: ['sleep', '3600'] }] },
          }),
        ),
      );
    console.log(`${PODS} pods created in ${Date.now() - started} ms`);
    const token = (
      await run(process.execPath, [K8TS_BIN, 'dashboard', 'token', '--kubeconfig', c.kubeconfig])
    ).stdout.trim();
    const listUrl = `${c.url}/dashboard/#/list/core/v1/pods/${NS}`;

    const cold: number[] = [];
    const phases: { scriptsMs: number; listStartMs: number; listMs: number }[] = [];
    // One warm-up load first (the server's first Table render of the pods, the disk cache).
    for (let r = 0; r <= RUNS; r++) {
      const page = await browser.context.newPage();
      await page.addInitScript(
        (t) => (globalThis as unknown as PageGlobals).sessionStorage.setItem('k8ts.dashboard.token', t),
        token,
      );
      await page.addInitScript(watchForRows, PODS);
      await page.goto(listUrl);
      await page.waitForFunction(() => (globalThis as unknown as PageGlobals).renderedAt !== undefined, undefined, {
        timeout: 60_000,
      });
      const ms = await page.evaluate(() => (globalThis as unknown as PageGlobals).renderedAt ?? NaN);
      if (r > 0) {
        cold.push(ms);
        phases.push(await page.evaluate(milestones, NS));
      }
      await page.close();
    }

    const navigation: number[] = [];
    const page = await signIn(browser, c.url, token);
    for (let r = 0; r < RUNS; r++) {
      await page.goto(`${c.url}/dashboard/#/overview`);
      await page.waitForSelector('[data-testid=nodes]');
      const ms = await page.evaluate(
        ({ hash, n }) =>
          new Promise<number>((resolve) => {
            const w = globalThis as unknown as PageGlobals;
            const t0 = performance.now();
            const observer = new w.MutationObserver(() => {
              if (w.document.querySelectorAll('[data-testid=resource-table] tbody tr').length >= n) {
                observer.disconnect();
                resolve(performance.now() - t0);
              }
            });
            observer.observe(w.document, { childList: true, subtree: true });
            w.location.hash = hash;
          }),
        { hash: `#/list/core/v1/pods/${NS}`, n: PODS },
      );
      navigation.push(ms);
    }
    const summary = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return { medianMs: Math.round(pct(s, 0.5)), maxMs: Math.round(s[s.length - 1]), runsMs: xs.map(Math.round) };
    };
    const result = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      pods: PODS,
      cold: summary(cold),
      // Medians of when, in a cold load, the scripts had arrived, the pods list was asked for and answered.
      coldPhases: {
        scriptsMs: Math.round(
          pct(
            phases.map((p) => p.scriptsMs).sort((a, b) => a - b),
            0.5,
          ),
        ),
        listStartMs: Math.round(
          pct(
            phases.map((p) => p.listStartMs).sort((a, b) => a - b),
            0.5,
          ),
        ),
        listMs: Math.round(
          pct(
            phases.map((p) => p.listMs).sort((a, b) => a - b),
            0.5,
          ),
        ),
      },
      navigation: summary(navigation),
    };
    console.log(JSON.stringify(result, null, 2));
    mkdirSync(dirname(OUT), { recursive: true });
    writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n');
    console.log(`results written to ${OUT}`);
  } finally {
    await browser.close();
    await c.cleanup();
  }
}

await main();

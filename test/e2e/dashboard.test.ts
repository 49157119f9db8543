// The web dashboard in headless Chromium against a real server with the process runtime (pods
// are host processes): sign in with `k8ts dashboard token`, watch a Deployment go Ready, scale
// it, read a pod's logs, exec `echo hi`, edit a ConfigMap through a dry-run diff, and a read-only
// user who sees no delete button. Screenshots are kept in a temp dir (printed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import {
  importTestImages,
  K8TS_BIN,
  realContainersUnavailable,
  run,
  startCluster,
  until,
  waitForReadyNode,
  type Cluster,
} from './harness.js';
import { rawClient } from './rawclient.js';
import { chromiumUnavailable, launchChromium, signIn, type Browser } from './browser.js';

const skip = chromiumUnavailable() ?? realContainersUnavailable();
const shots = mkdtempSync(join(tmpdir(), 'k8ts-dashboard-screenshots-'));
let c: Cluster;
let browser: Browser;
let adminToken: string;
let page: Page;

const screenshot = async (p: Page, name: string) => {
  const path = join(shots, `${name}.png`);
  await p.screenshot({ path, fullPage: true });
  return path;
};

before(async () => {
  if (skip) return;
  c = await startCluster({ agent: true, args: ['--runtime', 'process'] });
  await waitForReadyNode(c);
  await importTestImages(c, ['busybox']);
  const r = await run(process.execPath, [K8TS_BIN, 'dashboard', 'token', '--kubeconfig', c.kubeconfig]);
  assert.equal(r.code, 0, r.stderr);
  adminToken = r.stdout.trim();
  browser = await launchChromium({ servers: [c.url] });
  console.log(`dashboard screenshots: ${shots}`);
});

after(async () => {
  await browser?.close();
  await c?.cleanup();
});

test('the page is served without credentials, with content types, caching and a CSP', { skip }, async () => {
  const anon = rawClient(c.kubeconfig, { anonymous: true });
  const index = await anon.request('GET', '/dashboard/');
  assert.equal(index.status, 200);
  assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(index.headers['cache-control'], 'no-cache');
  assert.match(String(index.headers['content-security-policy']), /script-src 'self'/);
  const script = /src="(\/dashboard\/assets\/[^"]+\.js)"/.exec(index.body)?.[1];
  assert.ok(script, index.body);
  const js = await anon.request('GET', script);
  assert.equal(js.status, 200);
  assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.equal((await anon.request('GET', '/dashboard')).headers.location, '/dashboard/');
  // The API itself still wants credentials: the page holds no data.
  assert.equal((await anon.request('GET', '/api/v1/namespaces/default/configmaps')).status, 403);
});

test(
  'sign in with `k8ts dashboard token`, see a Deployment go Ready live, scale it',
  { skip, timeout: 180_000 },
  async () => {
    page = await signIn(browser, c.url, adminToken);
    assert.equal(
      await page.textContent('[data-testid=user]'),
      'system:serviceaccount:kube-system:k8ts-dashboard-admin',
    );
    await page.waitForSelector('[data-testid=nodes] tbody tr');
    await screenshot(page, '01-overview');
    await page.goto(`${c.url}/dashboard/#/list/apps/v1/deployments/default`);
    await page.waitForSelector('[data-testid=row-count]:has-text("0 of 0")');
    await c.k([
      'create',
      'deployment',
      'web',
      '--image=k8ts.local/busybox:1.35',
      '--',
      'sh',
      '-c',
      'echo hello-from-web; exec sleep 3600',
    ]);
    // The row appears and turns 1/1 through the watch (the page never reloads).
    await page.waitForSelector('tr[data-name=web] td:has-text("1/1")', { timeout: 120_000 });
    await screenshot(page, '02-deployment-ready');
    await page.click('tr[data-name=web] a');
    await page.waitForSelector('input[name=replicas]');
    await page.fill('input[name=replicas]', '2');
    assert.equal(await clickAction(page, 'button:has-text("Scale")', 'scale', 30_000), 'scale: done');
    assert.equal((await c.k(['get', 'deployment', 'web', '-o', 'jsonpath={.spec.replicas}'])).trim(), '2');
    await page.waitForSelector('tr[data-condition=Available]');
    await page.goto(`${c.url}/dashboard/#/list/apps/v1/deployments/default`);
    await page.waitForSelector('tr[data-name=web] td:has-text("2/2")', { timeout: 120_000 });
    await screenshot(page, '03-scaled');
  },
);

/**
 * Clicks `button` and returns how the action `what` ended, as its message says ("what: done" or
 * "what: <error>"); when it has not ended within `timeout`, what the message says then and the
 * requests the page started since the click that are still open.
 */
async function clickAction(p: Page, button: string, what: string, timeout: number): Promise<string> {
  const open = new Map<unknown, string>();
  const started = Date.now();
  const onRequest = (r: { method(): string; url(): string }) => {
    const url = new URL(r.url());
    const watch = url.searchParams.has('watch') ? ' (watch)' : '';
    open.set(r, `${r.method()} ${url.pathname}${watch} at +${Date.now() - started} ms`);
  };
  const onDone = (r: unknown) => open.delete(r);
  const errors: string[] = [];
  const onConsole = (m: { type(): string; text(): string }) => {
    if (m.type() === 'error') errors.push(m.text());
  };
  const onPageError = (e: Error) => errors.push(e.message);
  p.on('request', onRequest);
  p.on('requestfinished', onDone);
  p.on('requestfailed', onDone);
  p.on('console', onConsole);
  p.on('pageerror', onPageError);
  try {
    await p.click(button);
    const outcome = p.locator('[data-testid=action-message]', { hasText: new RegExp(`^${what}:`) });
    const ended = await outcome.waitFor({ timeout }).then(
      () => true,
      () => false,
    );
    if (ended) return (await outcome.textContent()) ?? '';
    const message = await p
      .locator('[data-testid=action-message]')
      .textContent({ timeout: 1000 })
      .catch(() => null);
    return (
      `no outcome after ${timeout} ms: the message is ${message === null ? 'gone' : JSON.stringify(message)}; ` +
      `requests open: ${[...open.values()].join(', ') || 'none'}; page errors: ${errors.join(' | ') || 'none'}; ` +
      `at ${p.url()}, actions: ${await p
        .locator('.actions')
        .innerHTML({ timeout: 1000 })
        .catch(() => 'none')}; ` +
      `screenshot: ${await screenshot(p, `${what}-no-outcome`)}`
    );
  } finally {
    p.off('request', onRequest);
    p.off('requestfinished', onDone);
    p.off('requestfailed', onDone);
    p.off('console', onConsole);
    p.off('pageerror', onPageError);
  }
}

async function webPod(): Promise<string> {
  const names = await c.k(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].metadata.name}']);
  return names.trim().split(/\s+/)[0];
}

test("read a pod's logs, exec `echo hi` in it", { skip, timeout: 120_000 }, async () => {
  const pod = await webPod();
  await page.goto(`${c.url}/dashboard/#/object/core/v1/pods/default/${pod}/logs`);
  await page.waitForSelector('[data-testid=logs]:has-text("hello-from-web")');
  await screenshot(page, '04-logs');
  await page.goto(`${c.url}/dashboard/#/object/core/v1/pods/default/${pod}/exec`);
  await page.fill('input[name=exec-command]', 'echo hi');
  await page.click('button:has-text("Connect")');
  await page.waitForSelector('[data-testid=exec-state]:has-text("exited")');
  await until(
    'hi in the terminal',
    async () => (await page.textContent('.xterm-rows'))?.includes('hi') === true,
    10_000,
    100,
  );
  await screenshot(page, '05-exec');
  // An interactive shell: keys typed in the terminal go to its stdin.
  await page.fill('input[name=exec-command]', 'sh');
  await page.click('button:has-text("Connect")');
  await page.waitForSelector('[data-testid=exec-state]:has-text("connected")');
  await page.click('[data-testid=terminal]');
  await page.keyboard.type('echo $((6*7))\n');
  await until(
    '42 in the terminal',
    async () => (await page.textContent('.xterm-rows'))?.includes('42') === true,
    10_000,
    100,
  );
  await page.keyboard.type('exit\n');
  await page.waitForSelector('[data-testid=exec-state]:has-text("exited")');
});

test('edit a ConfigMap: dry run, diff, save', { skip, timeout: 60_000 }, async () => {
  await c.k(['create', 'configmap', 'settings', '--from-literal=color=blue']);
  await page.goto(`${c.url}/dashboard/#/object/core/v1/configmaps/default/settings/yaml`);
  await page.click('button:has-text("Edit")');
  const yaml = await page.inputValue('textarea[name=yaml]');
  await page.fill('textarea[name=yaml]', yaml.replace('color: blue', 'color: green'));
  await page.click('button:has-text("Review changes")');
  await page.waitForSelector('[data-testid=yaml-diff] .add:has-text("color: green")');
  // The dry run changed nothing.
  assert.equal((await c.k(['get', 'configmap', 'settings', '-o', 'jsonpath={.data.color}'])).trim(), 'blue');
  await screenshot(page, '06-configmap-diff');
  await page.click('button:has-text("Save")');
  await page.waitForSelector('.ok:has-text("saved")');
  assert.equal((await c.k(['get', 'configmap', 'settings', '-o', 'jsonpath={.data.color}'])).trim(), 'green');
  await page.waitForSelector('[data-testid=yaml-view]:has-text("color: green")');
  // The admin is offered deletion here.
  await page.goto(`${c.url}/dashboard/#/object/core/v1/configmaps/default/settings`);
  await page.waitForSelector('[data-testid=delete]');
});

test('a read-only user sees the objects but no delete button and no editor', { skip, timeout: 60_000 }, async () => {
  await c.k(['create', 'serviceaccount', 'viewer']);
  await c.k(['create', 'rolebinding', 'viewer-view', '--clusterrole=view', '--serviceaccount=default:viewer']);
  const token = (await c.k(['create', 'token', 'viewer'])).trim();
  const viewer = await signIn(browser, c.url, token);
  await viewer.goto(`${c.url}/dashboard/#/object/core/v1/configmaps/default/settings`);
  await viewer.waitForSelector('[data-testid=object-name]:has-text("settings")');
  await viewer.waitForSelector('dd code.label, dl dd');
  // The access reviews have been answered once the page's requests are done.
  await viewer.waitForLoadState('networkidle').catch(() => undefined);
  await viewer.goto(`${c.url}/dashboard/#/object/apps/v1/deployments/default/web`);
  await viewer.waitForSelector('tr[data-condition=Available]');
  await viewer.waitForTimeout(1000);
  assert.equal(await viewer.locator('[data-testid=delete]').count(), 0);
  assert.equal(await viewer.locator('input[name=replicas]').count(), 0);
  await screenshot(viewer, '07-read-only');
  await viewer.goto(`${c.url}/dashboard/#/object/core/v1/configmaps/default/settings/yaml`);
  await viewer.waitForSelector('[data-testid=yaml-view]');
  await viewer.waitForTimeout(500);
  assert.equal(await viewer.locator('button:has-text("Edit")').count(), 0);
  await viewer.close();
});

test(
  'Helm releases: history and values, read from the release Secrets Helm 3 writes',
  { skip, timeout: 60_000 },
  async () => {
    // A release as Helm stores it: gzipped JSON, base64, in the `release` key of a Secret.
    const revision = (version: number, replicas: number, status: string) => {
      const release = {
        name: 'demo',
        namespace: 'default',
        version,
        info: { status, description: version === 1 ? 'Install complete' : 'Upgrade complete' },
        chart: { metadata: { name: 'demo', version: '0.1.0', appVersion: '1.0' } },
        config: { replicas },
        manifest: '---\n# Source: demo/templates/cm.yaml\n',
      };
      return gzipSync(JSON.stringify(release)).toString('base64');
    };
    for (const [v, replicas, status] of [
      [1, 2, 'superseded'],
      [2, 5, 'deployed'],
    ] as const) {
      const name = `sh.helm.release.v1.demo.v${v}`;
      await c.k([
        'create',
        'secret',
        'generic',
        name,
        '--type=helm.sh/release.v1',
        `--from-literal=release=${revision(v, replicas, status)}`,
      ]);
      await c.k(['label', 'secret', name, 'owner=helm', 'name=demo', `version=${v}`, `status=${status}`]);
    }
    await page.goto(`${c.url}/dashboard/#/helm/default`);
    await page.waitForSelector('tr[data-release=demo] td:has-text("deployed")');
    await page.click('tr[data-release=demo] a');
    await page.waitForSelector('[data-testid=helm-values]:has-text("replicas: 5")');
    await page.click('.helm-release a:text-is("1")');
    await page.waitForSelector('[data-testid=helm-values]:has-text("replicas: 2")');
    await screenshot(page, '08-helm');
  },
);

test("nodes: cordon, uncordon, and drain (evicting the Deployment's pods)", { skip, timeout: 120_000 }, async () => {
  const node = (await c.k(['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
  const unschedulable = async () => (await c.k(['get', 'node', node, '-o', 'jsonpath={.spec.unschedulable}'])).trim();
  await page.goto(`${c.url}/dashboard/#/object/core/v1/nodes//${node}`);
  assert.equal(await clickAction(page, 'button:text-is("Cordon")', 'cordon', 30_000), 'cordon: done');
  await page.waitForSelector('button:text-is("Uncordon")');
  assert.equal(await unschedulable(), 'true');
  assert.equal(await clickAction(page, 'button:text-is("Uncordon")', 'uncordon', 30_000), 'uncordon: done');
  await page.waitForSelector('button:text-is("Cordon")');
  // (The field is removed, as kubectl uncordon leaves it.)
  assert.equal(await unschedulable(), '');
  assert.equal(await clickAction(page, 'button:text-is("Drain")', 'drain', 60_000), 'drain: done');
  assert.equal(await unschedulable(), 'true');
  // The evicted pods' replacements have nowhere to go.
  await until(
    'the web pods evicted and replaced by Pending ones',
    async () => {
      const phases = await c.k(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].status.phase}']);
      return (
        phases.trim() !== '' &&
        phases
          .trim()
          .split(/\s+/)
          .every((p) => p === 'Pending')
      );
    },
    60_000,
    500,
  );
  await screenshot(page, '09-node-drained');
});

test('--disable-dashboard: nothing is served at /dashboard/', { skip: chromiumUnavailable() }, async () => {
  const off = await startCluster({ args: ['--disable-dashboard'] });
  try {
    const anon = rawClient(off.kubeconfig, { anonymous: true });
    const answer = await anon.request('GET', '/dashboard/');
    // An ordinary non-resource path now: anonymous users may not read it.
    assert.equal(answer.status, 403);
    assert.equal(answer.headers['content-security-policy'], undefined);
    assert.equal((await rawClient(off.kubeconfig).request('GET', '/dashboard/')).status, 404);
  } finally {
    await off.cleanup();
  }
});

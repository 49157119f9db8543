// Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) for the dashboard's
// end-to-end tests and benchmark: a fresh profile each time, nothing fetched in the background.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'k8ts-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
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
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
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

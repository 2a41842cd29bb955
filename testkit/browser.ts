import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's Chromium, driven by playwright-core through its executablePath
 * (`npm run test:setup` installs it: scripts/browser/ensure-chromium.sh).
 * Playwright gives every launch a fresh temporary profile (`--user-data-dir`)
 * and removes it on close. The flags keep Chromium from opening connections
 * of its own, which this project's machines refuse.
 */
export const CHROMIUM = process.env.THREATRELAY_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run npm run test:setup (scripts/browser/ensure-chromium.sh)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

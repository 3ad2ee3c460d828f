// The HTML part of an email to a reviewer, opened in headless Chromium from a file (as a mail client shows
// it, with no server behind it): no script element, no request for anything on open (no remote image or
// stylesheet, though its prompt tries both), the buttons are links; and screenshots at desktop and phone
// widths into target/screenshots/ (email-desktop.png, email-phone.png).
//
//   bash tests/browser/run.sh test    (run.sh writes the file with the email_html example: HI_EMAIL_HTML)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { launchBrowser } from './support.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = process.env.HI_SCREENSHOT_DIR || path.resolve(here, '../../target/screenshots');
const file = process.env.HI_EMAIL_HTML;
if (!file) {
  throw new Error('HI_EMAIL_HTML is not set: run this through `bash tests/browser/run.sh`');
}
const url = pathToFileURL(file).href;

let browser;
before(async () => {
  browser = await launchBrowser();
  await mkdir(outDir, { recursive: true });
});
after(async () => {
  await browser?.close();
});

for (const [name, options] of [
  ['desktop', { viewport: { width: 1000, height: 900 } }],
  ['phone', { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }],
]) {
  test(`the email at ${name} width fetches nothing on open, runs nothing, and fits`, async () => {
    const context = await browser.newContext({ ...options, javaScriptEnabled: true });
    const requested = [];
    // Every request the page makes, refused unless it is the file itself (a remote one would be a tracking
    // pixel's or a stylesheet's fetch on open).
    await context.route('**/*', (route) => {
      requested.push(route.request().url());
      return route.request().url() === url ? route.continue() : route.abort();
    });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    try {
      await page.goto(url, { waitUntil: 'load' });
      assert.deepEqual(requested, [url], 'only the message itself was loaded');
      assert.equal(await page.locator('script, iframe, object, embed, img, link, style').count(), 0);
      assert.deepEqual(errors, []);
      const heading = await page.getByRole('heading', { level: 1 }).textContent();
      assert.equal(heading, 'Approve refund');
      const buttons = await page.locator('a', { hasText: /^(Approve|Reject)$/ }).evaluateAll((links) =>
        links.map((a) => [a.textContent, a.getAttribute('href'), getComputedStyle(a).display]),
      );
      assert.deepEqual(buttons, [
        ['Approve', 'https://approvals.example/i/v3.k1.approve-sample', 'inline-block'],
        ['Reject', 'https://approvals.example/i/v3.k1.reject-sample', 'inline-block'],
      ]);
      const body = await page.locator('body').innerText();
      assert.match(body, /Amount\s+120\.50 EUR/);
      assert.match(body, /For Bob Example\./);
      assert.match(body, /Asked by Ann Example\./);
      assert.doesNotMatch(body, /a@example\.com/, 'a secret value is shown');
      // Nothing wider than the screen: no sideways scrolling on a phone.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${overflow} px wider than the window`);
      await page.screenshot({ path: path.join(outDir, `email-${name}.png`), fullPage: true, animations: 'disabled' });
    } finally {
      await context.close();
    }
  });
}

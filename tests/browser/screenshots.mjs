// Screenshots of every reviewer-facing page, for a look at the design:
//
//   bash tests/browser/run.sh screenshots     → target/screenshots/*.png
//
// Expects the local server that run.sh starts (HI_BASE_URL).
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  BASE_URL,
  SUCCESS_HEADING,
  createIntervention,
  demoInput,
  fillDemoForm,
  launchBrowser,
  oneClickInput,
  oneClickLink,
  sleep,
  submit,
  TYPED,
} from './support.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = process.env.HI_SCREENSHOT_DIR || path.resolve(here, '../../target/screenshots');

const DESKTOP = { viewport: { width: 1280, height: 900 } };
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

const written = [];

async function shoot(page, name) {
  const file = path.join(outDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
  written.push(file);
}

async function expectHeading(page, text) {
  await page.getByRole('heading', { level: 1, name: text, exact: true }).waitFor({ state: 'visible', timeout: 5_000 });
}

async function main() {
  await mkdir(outDir, { recursive: true });
  // Created first, so it has expired (about 1.1 s) by the time its turn comes.
  const expired = await createIntervention(demoInput({ urlExpirationHours: 0.0003 }));
  const expiredAt = Date.now() + 1_500;

  const browser = await launchBrowser();
  try {
    const open = async (options, fn) => {
      const context = await browser.newContext(options);
      const page = await context.newPage();
      page.setDefaultTimeout(10_000);
      try {
        await fn(page);
      } finally {
        await context.close();
      }
    };

    // The form, as it first appears.
    const form = await createIntervention(demoInput());
    await open(DESKTOP, async (page) => {
      await page.goto(form.link);
      await shoot(page, 'form-desktop');
    });
    await open(PHONE, async (page) => {
      await page.goto(form.link);
      await shoot(page, 'form-phone');
    });
    await open({ ...PHONE, colorScheme: 'dark' }, async (page) => {
      await page.goto(form.link);
      await shoot(page, 'form-phone-dark');
    });

    // A one-click link's confirm page (opening it decides nothing), then its POST.
    const oneClick = await createIntervention(oneClickInput());
    const approve = oneClickLink(oneClick.link, 0);
    await open(DESKTOP, async (page) => {
      await page.goto(approve);
      await page.getByRole('button', { name: 'Confirm: Approve' }).waitFor({ state: 'visible', timeout: 5_000 });
      await shoot(page, 'confirm-desktop');
    });
    await open(PHONE, async (page) => {
      await page.goto(approve);
      await page.getByRole('button', { name: 'Confirm: Approve' }).waitFor({ state: 'visible', timeout: 5_000 });
      await shoot(page, 'confirm-phone');
      await page.getByRole('button', { name: 'Confirm: Approve' }).click();
      await expectHeading(page, SUCCESS_HEADING);
    });

    // A failed validation (an amount out of range and the required checkbox left empty).
    await open(DESKTOP, async (page) => {
      await page.goto(form.link);
      await fillDemoForm(page, { ...TYPED, amount: '5000' });
      await page.getByLabel('I checked the order history').uncheck();
      await page.locator('form').evaluate((f) => {
        f.noValidate = true;
      });
      const response = await submit(page);
      if (response.status() !== 422) throw new Error(`validation page answered ${response.status()}`);
      await shoot(page, 'validation-error-desktop');
    });
    await open(PHONE, async (page) => {
      await page.goto(form.link);
      await fillDemoForm(page, { ...TYPED, amount: '5000' });
      await page.getByLabel('I checked the order history').uncheck();
      await page.locator('form').evaluate((f) => {
        f.noValidate = true;
      });
      await submit(page);
      await shoot(page, 'validation-error-phone');
    });

    // Accepted, then used up.
    await open(DESKTOP, async (page) => {
      await page.goto(form.link);
      await fillDemoForm(page);
      await submit(page);
      await expectHeading(page, SUCCESS_HEADING);
      await shoot(page, 'success-desktop');
      await page.goto(form.link);
      await expectHeading(page, 'Already used the maximum number of times');
      await shoot(page, 'used-up-desktop');
    });
    await open(PHONE, async (page) => {
      await page.goto(form.link);
      await expectHeading(page, 'Already used the maximum number of times');
      await shoot(page, 'used-up-phone');
    });

    // A bare approval (no form).
    const { formDocument, ...bare } = demoInput();
    void formDocument;
    const approval = await createIntervention(bare);
    await open(PHONE, async (page) => {
      await page.goto(approval.link);
      await shoot(page, 'approval-only-phone');
      await submit(page);
      await expectHeading(page, SUCCESS_HEADING);
      await shoot(page, 'success-phone');
    });

    await open(DESKTOP, async (page) => {
      await page.goto(`${BASE_URL}/i/not-a-real-link`);
      await expectHeading(page, 'Not found');
      await shoot(page, 'not-found-desktop');
    });

    await sleep(Math.max(0, expiredAt - Date.now()));
    await open(DESKTOP, async (page) => {
      await page.goto(expired.link);
      await expectHeading(page, 'Link has expired');
      await shoot(page, 'expired-desktop');
    });
    await open(PHONE, async (page) => {
      await page.goto(expired.link);
      await expectHeading(page, 'Link has expired');
      await shoot(page, 'expired-phone');
    });
  } finally {
    await browser.close();
  }
  for (const file of written) console.log(file);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});

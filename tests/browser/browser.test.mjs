// The reviewer's pages in a real headless Chromium, against the local server that run.sh starts.
//
//   bash tests/browser/run.sh test
//
// Each test opens its own browser context (fresh cookies, cache and settings) in one shared browser, and
// creates its own intervention with a unique correlation id, so the tests do not depend on each other.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdirSync } from 'node:fs';

import {
  BASE_URL,
  LINK_KEY,
  SUCCESS_HEADING,
  TYPED,
  cancelIntervention,
  continuationsOf,
  createIntervention,
  demoInput,
  fillDemoForm,
  launchBrowser,
  axeViolations,
  oneClickInput,
  oneClickLink,
  sleep,
  submit,
} from './support.mjs';

const SCREENSHOTS = process.env.HI_SCREENSHOT_DIR || new URL('../../target/screenshots', import.meta.url).pathname;
mkdirSync(SCREENSHOTS, { recursive: true });

const CSP_OR_REFUSAL = /content security policy|refused to|x-frame-options/i;

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/**
 * Runs `fn` with a fresh page that records dialogs, console messages and page errors, then asserts that
 * no page script ran (no dialog, no page error) and that nothing was refused under the CSP (unless
 * `allowRefusals`), and closes the context.
 */
async function withPage(fn, { contextOptions = {}, allowRefusals = false, viewport } = {}) {
  const context = await browser.newContext({ viewport: viewport ?? { width: 1280, height: 900 }, ...contextOptions });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.setDefaultNavigationTimeout(15_000);
  const seen = { dialogs: [], console: [], pageErrors: [] };
  page.on('dialog', (dialog) => {
    seen.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  page.on('console', (message) => seen.console.push(`${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => seen.pageErrors.push(String(error)));
  try {
    await fn(page, seen);
    assert.deepEqual(seen.dialogs, [], 'no dialog may open');
    assert.deepEqual(seen.pageErrors, [], 'no page script may run or fail');
    if (!allowRefusals) {
      assert.deepEqual(
        seen.console.filter((line) => CSP_OR_REFUSAL.test(line)),
        [],
        'nothing may be refused under the Content-Security-Policy',
      );
    }
  } finally {
    await context.close();
  }
}

/** Waits until `locator` is visible (throws with a clear message otherwise). */
async function assertVisible(locator, what) {
  try {
    await locator.first().waitFor({ state: 'visible', timeout: 5_000 });
  } catch {
    assert.fail(`${what ?? locator} is not visible`);
  }
}

/** The one continuation queued for this run (and that there is exactly one). */
async function onlyContinuation(correlationId) {
  const mine = await continuationsOf(correlationId);
  // Give a duplicate the chance to show up before counting.
  await sleep(150);
  const settled = await continuationsOf(correlationId, { count: mine.length });
  assert.equal(settled.length, 1, `exactly one continuation for ${correlationId}: ${JSON.stringify(settled)}`);
  return settled[0];
}

/** A form with no fields: the page is a bare "Submit" (approve) button. */
/** Opens `url` and checks it is the refusal page of `text` with `status`: heading, title, no form. */
async function expectRejection(page, url, status, text) {
  const response = await page.goto(url);
  assert.equal(response.status(), status, `${url} answers ${status}`);
  await assertVisible(page.getByRole('heading', { level: 1, name: text, exact: true }), `"${text}"`);
  await assertVisible(page.getByText(text, { exact: true }), `"${text}"`);
  assert.equal(await page.title(), text);
  assert.equal(await page.locator('form').count(), 0, 'no form on a rejection page');
  assert.equal(await page.locator('input, textarea, select, button').count(), 0);
}

function approvalOnlyInput(overrides = {}) {
  const { formDocument, ...rest } = demoInput(overrides);
  void formDocument;
  return rest;
}

describe('the form', () => {
  test('every field type is filled by label, submitted, and queued correctly typed', async () => {
    const created = await createIntervention(demoInput());
    const { correlationId } = created.input;
    await withPage(async (page) => {
      const response = await page.goto(created.link);
      assert.equal(response.status(), 200);
      assert.equal(await page.title(), 'Approve refund');
      await assertVisible(page.getByRole('heading', { level: 1, name: 'Approve refund' }));
      // The stylesheet loads under the CSP (the card is laid out by it, not by the browser's defaults).
      assert.equal(await page.locator('main.card').evaluate((el) => getComputedStyle(el).maxWidth), '640px');
      // The prompt's Markdown is rendered; shown context values are there; the secret one is not.
      await assertVisible(page.locator('.prompt strong', { hasText: '120.50 EUR' }));
      const details = page.locator('section.details');
      await assertVisible(details.getByText('Ada Lovelace', { exact: true }));
      assert.equal(await page.getByText('ada@example.com').count(), 0, 'secret values are never shown');
      assert.ok(!(await page.content()).includes('ada@example.com'), 'secret values are not in the page at all');
      // The prefill and the default are in place before the reviewer types.
      assert.equal(await page.getByLabel('Amount (EUR)').inputValue(), '120.5');
      assert.equal(await page.getByLabel('Items refunded').inputValue(), '1');

      const submissionId = await page.locator('input[type=hidden][name=_submissionId]').inputValue();
      assert.match(submissionId, /^[A-Za-z0-9_-]{16,}$/);
      await fillDemoForm(page);
      const posted = await submit(page);
      assert.equal(posted.status(), 200);
      await assertVisible(page.getByRole('heading', { level: 1, name: SUCCESS_HEADING }));
      await assertVisible(page.locator('.reference code', { hasText: correlationId }));
      assert.equal(await page.locator('.reference code').textContent(), correlationId);

      const message = await onlyContinuation(correlationId);
      assert.equal(message.version, 1);
      assert.equal(message.outcome, 'submitted');
      assert.equal(message.environmentId, 'local');
      assert.equal(message.ruleSetId, 'refund-continue');
      assert.equal(message.interventionId, created.interventionId);
      assert.equal(message.submissionId, submissionId);
      assert.equal(message.id, `${created.interventionId}:${submissionId}`);
      assert.equal(message.countsAgainstAllowance, false, 'a Dedicated tier never counts against an allowance');
      assert.ok(!Number.isNaN(Date.parse(message.submittedAt)));
      const c = message.context;
      assert.equal(c.decision, 'approve');
      assert.equal(c['refund.amount'], 99.95);
      assert.equal(c['refund.items'], 3);
      assert.ok(Number.isInteger(c['refund.items']));
      assert.deepEqual(c['refund.reasons'], TYPED.reasons);
      assert.equal(c['refund.date'], '2026-12-01');
      assert.equal(c['followUp.at'], '2026-12-02T09:30:00Z');
      assert.match(c['followUp.at'], /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      assert.equal(c['reviewer.email'], TYPED.email);
      assert.equal(c['evidence.url'], TYPED.url);
      assert.equal(c.note, TYPED.note);
      assert.equal(c.confirmed, true);
      // The run's own context comes along, the form winning only on its own keys.
      assert.equal(c['order.id'], 'A-1001');
      assert.equal(c['order.amount'], 120.5);
      assert.equal(c['customer.name'], 'Ada Lovelace');
      // Nothing but the form's fields and the run's context reaches the continuation.
      const expectedKeys = [
        ...created.input.formDocument.fields.map((f) => f.key),
        ...Object.keys(created.input.context),
      ];
      const unexpected = Object.keys(c).filter((k) => !expectedKeys.includes(k) && k !== LINK_KEY);
      assert.deepEqual(unexpected, []);
    });
  });

  test('a failed validation answers 422 with the message at the field and every typed value kept', async () => {
    const created = await createIntervention(demoInput());
    const { correlationId } = created.input;
    const typed = {
      ...TYPED,
      decision: 'reject',
      amount: '5000',
      items: '2',
      reasons: ['late'],
      note: 'Line one\nLine two: <kept> & "quoted"',
    };
    await withPage(async (page) => {
      await page.goto(created.link);
      const submissionId = await page.locator('input[name=_submissionId]').inputValue();
      await fillDemoForm(page, typed);
      // Past the browser's own min/max check, so that the server's validation answers.
      await page.locator('form').evaluate((form) => {
        form.noValidate = true;
      });
      const posted = await submit(page);
      assert.equal(posted.status(), 422);
      assert.equal(await page.title(), 'Error: Approve refund');
      await assertVisible(page.getByRole('alert').getByText('Please correct the fields marked below.'));
      await assertVisible(
        page.getByRole('alert').getByRole('link', { name: 'Amount (EUR): Enter a number of at most 1000.' }),
      );

      // The message sits at the field, and the field says it is invalid.
      const amount = page.getByLabel('Amount (EUR)');
      assert.equal(await amount.getAttribute('aria-invalid'), 'true');
      const amountId = await amount.getAttribute('id');
      const describedBy = (await amount.getAttribute('aria-describedby')) ?? '';
      assert.ok(describedBy.split(' ').includes(`${amountId}-error`), `aria-describedby=${describedBy}`);
      const message = page.locator(`#${amountId}-error`);
      await assertVisible(message, 'the message at the amount');
      assert.match(await message.innerText(), /Enter a number of at most 1000\./);
      assert.equal(await page.locator('[aria-invalid="true"]').count(), 1, 'only the bad field is marked');
      assert.equal(
        await page.getByRole('alert').getByRole('link').first().getAttribute('href'),
        `#${amountId}`,
        'the summary links to the control',
      );

      // Every typed value is still in its control.
      const decision = page.getByRole('group', { name: /^Decision/ });
      assert.equal(await decision.getByLabel('reject', { exact: true }).isChecked(), true);
      assert.equal(await decision.getByLabel('approve', { exact: true }).isChecked(), false);
      assert.equal(await amount.inputValue(), '5000');
      assert.equal(await page.getByLabel('Items refunded').inputValue(), '2');
      const reasons = page.getByRole('group', { name: 'Reasons' });
      assert.equal(await reasons.getByLabel('late', { exact: true }).isChecked(), true);
      assert.equal(await reasons.getByLabel('damaged', { exact: true }).isChecked(), false);
      assert.equal(await reasons.getByLabel('wrong item', { exact: true }).isChecked(), false);
      assert.equal(await page.getByLabel('Refund date').inputValue(), typed.date);
      assert.equal(await page.getByLabel('Follow up at (UTC)').inputValue(), typed.datetime);
      assert.equal(await page.getByLabel('Your email').inputValue(), typed.email);
      assert.equal(await page.getByLabel('Evidence link').inputValue(), typed.url);
      assert.equal(await page.getByLabel('Note').inputValue(), typed.note);
      assert.equal(await page.getByLabel('I checked the order history').isChecked(), true);
      assert.equal(await page.locator('input[name=_submissionId]').inputValue(), submissionId);

      // Nothing was queued; correcting the one field is then enough.
      assert.deepEqual(await continuationsOf(correlationId, { timeoutMs: 200 }), []);
      await amount.fill('250');
      const accepted = await submit(page);
      assert.equal(accepted.status(), 200);
      await assertVisible(page.getByRole('heading', { name: SUCCESS_HEADING }));
      const queued = await onlyContinuation(correlationId);
      assert.equal(queued.submissionId, submissionId);
      assert.equal(queued.context['refund.amount'], 250);
      assert.equal(queued.context.decision, 'reject');
      assert.deepEqual(queued.context['refund.reasons'], ['late']);
      assert.equal(queued.context['refund.items'], 2);
    });
  });

  test('the 422 page shows a value a typed control cannot hold as it was sent, in a text box', async () => {
    // A client (or a browser without the controls' own checks) sends values no number or date control can
    // hold; a browser blanks such a value, so the page must not put it in one.
    const created = await createIntervention(demoInput());
    await withPage(async (page) => {
      await page.goto(created.link);
      await fillDemoForm(page, { ...TYPED, decision: 'reject' });
      await page.locator('form').evaluate((form) => {
        form.noValidate = true;
        for (const name of ['refund.items', 'refund.date']) {
          form.elements[name].type = 'text';
        }
        form.elements['refund.items'].value = '12x';
        form.elements['refund.date'].value = '2026-13-45';
      });
      const posted = await submit(page);
      assert.equal(posted.status(), 422);
      const items = page.getByLabel('Items refunded');
      const date = page.getByLabel('Refund date');
      assert.equal(await items.inputValue(), '12x', 'the integer as sent');
      assert.equal(await date.inputValue(), '2026-13-45', 'the date as sent');
      assert.equal(await items.getAttribute('type'), 'text');
      assert.equal(await date.getAttribute('type'), 'text');
      assert.equal(await page.getByLabel('Amount (EUR)').getAttribute('type'), 'number', 'a value it holds keeps its control');
      assert.equal(await items.getAttribute('aria-invalid'), 'true');
    });
  });

  test('a 2 MB answer gets the 413 page, not a broken connection', async () => {
    const created = await createIntervention(demoInput());
    await withPage(async (page) => {
      await page.goto(created.link);
      await fillDemoForm(page, TYPED);
      await page.locator('form').evaluate((form) => {
        form.noValidate = true;
        form.elements.note.removeAttribute('maxlength');
        form.elements.note.value = 'x'.repeat(2 * 1024 * 1024);
      });
      const posted = await submit(page);
      assert.equal(posted.status(), 413);
      await assertVisible(page.getByRole('heading', { name: 'Response too large' }));
    });
    assert.deepEqual(await continuationsOf(created.input.correlationId, { timeoutMs: 200 }), []);
  });

  test('works with JavaScript disabled', async () => {
    const created = await createIntervention(demoInput());
    await withPage(
      async (page) => {
        const response = await page.goto(created.link);
        assert.equal(response.status(), 200);
        await fillDemoForm(page);
        const posted = await submit(page);
        assert.equal(posted.status(), 200);
        await assertVisible(page.getByRole('heading', { level: 1, name: SUCCESS_HEADING }));
        await assertVisible(page.getByText(created.input.correlationId, { exact: true }));
        const message = await onlyContinuation(created.input.correlationId);
        assert.equal(message.context.confirmed, true);
        assert.equal(message.context['refund.amount'], 99.95);
      },
      { contextOptions: { javaScriptEnabled: false } },
    );
  });

  test('a double click on Submit of a single-use link is one submission and shows the success page', async () => {
    const created = await createIntervention(approvalOnlyInput());
    await withPage(async (page) => {
      await page.goto(created.link);
      await assertVisible(page.getByRole('heading', { level: 1, name: 'Approval requested' }));
      await page.getByRole('button', { name: 'Submit' }).dblclick();
      await assertVisible(page.getByRole('heading', { level: 1, name: SUCCESS_HEADING }));
      const message = await onlyContinuation(created.input.correlationId);
      assert.equal(message.outcome, 'submitted');
    });
  });
});

describe('one click', () => {
  test('a one-click link opens the confirm page (accessible, no script), decides nothing until its button is pressed', async () => {
    const created = await createIntervention(oneClickInput());
    const { correlationId } = created.input;
    const reject = oneClickLink(created.link, 1);
    await withPage(async (page) => {
      const response = await page.goto(reject);
      assert.equal(response.status(), 200);
      assert.equal(await page.title(), 'Approve refund');
      await assertVisible(page.getByRole('heading', { level: 1, name: 'Approve refund' }));
      await assertVisible(page.getByRole('heading', { level: 2, name: 'Your answer' }));
      await assertVisible(page.locator('section.confirm strong', { hasText: 'Reject' }));
      await assertVisible(page.locator('section.details').getByText('Ada Lovelace', { exact: true }));
      // One button, the optional fields, and no control for the decision (the link decides it).
      const buttons = page.getByRole('button');
      assert.equal(await buttons.count(), 1);
      assert.equal(await buttons.first().textContent(), 'Confirm: Reject');
      assert.equal(await page.getByRole('radio').count(), 0);
      assert.equal(await page.getByLabel('Amount (EUR)').inputValue(), '120.5');
      assert.deepEqual(await axeViolations(page), [], 'the confirm page passes axe');
      // Opening it (and opening it again) queued nothing.
      await page.reload();
      assert.deepEqual(await continuationsOf(correlationId, { timeoutMs: 300 }), []);

      await page.getByLabel('Note').fill('Not this time');
      const [posted] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && r.request().isNavigationRequest()),
        page.getByRole('button', { name: 'Confirm: Reject' }).click(),
      ]);
      assert.equal(posted.status(), 200);
      await assertVisible(page.getByRole('heading', { level: 1, name: SUCCESS_HEADING }));
      const message = await onlyContinuation(correlationId);
      assert.equal(message.context.decision, 'reject');
      assert.equal(message.context.note, 'Not this time');
      // The other option's link is used up as well: one link, one use.
      await expectRejection(page, oneClickLink(created.link, 0), 410, 'Already used the maximum number of times');
    });
  });

  test("the email in the local server's mailbox loads nothing remote, and its button confirms before it decides", async () => {
    const correlationId = `mailbox-${Date.now()}`;
    const created = await createIntervention(
      oneClickInput({ correlationId, notify: { email: ['ann@example.com'], slack: 'C0APPROVALS' } }),
    );
    // The local publisher sends it within a pass: find it on the mailbox page.
    let emailHref;
    await withPage(async (page) => {
      for (let i = 0; i < 50 && !emailHref; i += 1) {
        await page.goto(`${BASE_URL}/mailbox`);
        emailHref = await page
          .getByRole('link', { name: /^Email to ann@example\.com: Approve refund/ })
          .first()
          .getAttribute('href', { timeout: 200 })
          .catch(() => undefined);
        if (!emailHref) await sleep(100);
      }
      assert.ok(emailHref, 'the email is on the mailbox page');
      await page.screenshot({ path: `${SCREENSHOTS}/mailbox-desktop.png`, fullPage: true });
    });
    for (const [name, viewport] of [['desktop', { width: 1000, height: 900 }], ['phone', { width: 390, height: 844 }]]) {
      await withPage(
        async (page) => {
          const remote = [];
          page.on('request', (r) => {
            if (!r.url().startsWith(BASE_URL)) remote.push(r.url());
          });
          const response = await page.goto(`${BASE_URL}${emailHref}`);
          assert.equal(response.status(), 200);
          assert.match(response.headers()['content-security-policy'], /default-src 'none'/);
          assert.equal(await page.locator('script, img[src^="http"], link[rel=stylesheet]').count(), 0);
          assert.deepEqual(remote, [], 'opening the email fetches nothing remote');
          await page.screenshot({ path: `${SCREENSHOTS}/mailbox-email-${name}.png`, fullPage: true });
          if (name === 'phone') return;
          // The email's Approve button: the confirm page, which decides only when its button is pressed.
          await page.getByRole('link', { name: 'Approve', exact: true }).first().click();
          await assertVisible(page.getByRole('button', { name: 'Confirm: Approve' }));
          assert.deepEqual(await continuationsOf(correlationId, { timeoutMs: 300 }), []);
          await page.getByRole('button', { name: 'Confirm: Approve' }).click();
          await assertVisible(page.getByRole('heading', { level: 1, name: SUCCESS_HEADING }));
        },
        { viewport },
      );
    }
    const message = await onlyContinuation(correlationId);
    assert.equal(message.context.decision, 'approve');
    assert.equal(message.interventionId, created.interventionId);
  });

  test('a form link with ?option= opens the form with that option chosen (accessible), deciding nothing', async () => {
    const created = await createIntervention(demoInput());
    await withPage(async (page) => {
      assert.equal((await page.goto(`${created.link}?option=reject`)).status(), 200);
      const decision = page.getByRole('group', { name: /^Decision/ });
      assert.equal(await decision.getByLabel('reject', { exact: true }).isChecked(), true);
      assert.equal(await decision.getByLabel('approve', { exact: true }).isChecked(), false);
      assert.equal(await page.getByRole('button', { name: 'Submit' }).count(), 1);
      assert.deepEqual(await axeViolations(page), [], 'the form page passes axe');
      // The demo form is not one-click (a required checkbox): a one-click link to it was never issued.
      assert.equal((await page.goto(oneClickLink(created.link, 0))).status(), 404);
    });
    assert.deepEqual(await continuationsOf(created.input.correlationId, { timeoutMs: 300 }), []);
  });
});

describe('named reviewers', () => {
  /** An approval with three named reviewers: each gets a link of their own, in a map at the link key. */
  async function reviewed() {
    const { maxUrlUses, ...input } = approvalOnlyInput();
    void maxUrlUses;
    input.reviewers = [
      { id: 'ann@example.com', name: 'Ann Example' },
      { id: 'bob@example.com', name: 'Bob <b>Example</b>' },
      { id: 'cy@example.com', name: 'Cy Example' },
    ];
    const response = await fetch(`${BASE_URL}/interventions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(input),
    });
    assert.equal(response.status, 200, await response.clone().text());
    const created = await response.json();
    const links = created.context[LINK_KEY];
    assert.deepEqual(Object.keys(links).sort(), ['ann@example.com', 'bob@example.com', 'cy@example.com']);
    return { created, links, input };
  }

  test("each reviewer answers on their own link, once, and the continuation says who", async () => {
    const { links, input } = await reviewed();
    assert.equal(new Set(Object.values(links)).size, 3, 'three different links');
    await withPage(async (page) => {
      await page.goto(links['bob@example.com']);
      // The reviewer's name is shown as text, never as markup.
      await assertVisible(page.getByText('Answering as Bob <b>Example</b>.', { exact: true }));
      const posted = await submit(page);
      assert.equal(posted.status(), 200);
      await assertVisible(page.getByRole('heading', { name: SUCCESS_HEADING }));
      await expectRejection(page, links['bob@example.com'], 410, 'Already used the maximum number of times');
      // Bob's answer never counts as Ann's: her link is still live.
      const ann = await page.goto(links['ann@example.com']);
      assert.equal(ann.status(), 200);
      await assertVisible(page.getByText('Answering as Ann Example.', { exact: true }));
    });
    const [continuation] = await continuationsOf(input.correlationId);
    assert.equal(continuation.reviewerId, 'bob@example.com');
  });

  test('a reviewer link with a forged reviewer index is "Not found"', async () => {
    const { links } = await reviewed();
    const link = links['ann@example.com'];
    const [prefix, body] = [link.slice(0, link.lastIndexOf('.') + 1), link.slice(link.lastIndexOf('.') + 1)];
    const bytes = Buffer.from(body, 'base64url');
    bytes[16 + 8] ^= 1; // the reviewer's index, right after the id and the expiry
    await withPage(async (page) => {
      await expectRejection(page, prefix + bytes.toString('base64url'), 404, 'Not found');
    });
  });
});

describe('line breaks', () => {
  test(
    'a multiline text of exactly maxLength characters with line breaks is accepted',
    async () => {
      const created = await createIntervention(demoInput());
      await withPage(async (page) => {
        await page.goto(created.link);
        await fillDemoForm(page, { ...TYPED, note: 'x' });
        // Typed as a reviewer types: 490 letters and 10 line breaks, exactly the 500 the control allows.
        const note = page.getByLabel('Note');
        await note.fill('a'.repeat(480));
        await note.press('End');
        for (let i = 0; i < 10; i += 1) {
          await page.keyboard.press('Enter');
          await page.keyboard.type('b');
        }
        const typed = await note.inputValue();
        assert.equal(typed.length, 500);
        assert.equal(await note.evaluate((el) => el.validity.valid), true, 'the browser accepts it');
        const posted = await submit(page);
        const messages = await page.locator('.error-message').allInnerTexts();
        assert.equal(posted.status(), 200, `answered ${posted.status()}: ${messages.join(' | ')}`);
        const message = await onlyContinuation(created.input.correlationId);
        assert.equal(message.context.note, typed, 'stored with LF line breaks, as typed');
      });
    },
  );
});

describe('rejection pages', () => {
  /** Opens `url` and checks the status, the exact heading and the tab title. */

  test('an unknown or forged link: 404 "Not found"', async () => {
    const created = await createIntervention(demoInput());
    const token = created.link.slice(`${BASE_URL}/i/`.length);
    // One character of the signature changed: still well-formed, no longer valid.
    const last = token.at(-1);
    const forged = token.slice(0, -1) + (last === 'A' ? 'B' : 'A');
    await withPage(async (page) => {
      await expectRejection(page, `${BASE_URL}/i/${forged}`, 404, 'Not found');
      await expectRejection(page, `${BASE_URL}/i/not-a-real-link`, 404, 'Not found');
      await expectRejection(page, `${BASE_URL}/i/`, 404, 'Not found');
      // The genuine link still works: the forgeries did not disturb it.
      assert.equal((await page.goto(created.link)).status(), 200);
    });
  });

  test('an expired link: 410 "Link has expired", also for a form opened before it expired', async () => {
    // About 1.1 s and 2.2 s.
    const [soon, later] = await Promise.all([
      createIntervention(demoInput({ urlExpirationHours: 0.0003 })),
      createIntervention(demoInput({ urlExpirationHours: 0.0006 })),
    ]);
    const createdAt = Date.now();
    await withPage(async (page) => {
      // The reviewer opens the form in time and fills it in…
      assert.equal((await page.goto(later.link)).status(), 200);
      await fillDemoForm(page);
      const other = await page.context().newPage();
      await sleep(Math.max(0, createdAt + 1_500 - Date.now()));
      await expectRejection(other, soon.link, 410, 'Link has expired');
      await other.close();
      // …but submits too late.
      await sleep(Math.max(0, createdAt + 2_700 - Date.now()));
      const posted = await submit(page);
      assert.equal(posted.status(), 410);
      await assertVisible(page.getByRole('heading', { level: 1, name: 'Link has expired', exact: true }));
      assert.deepEqual(await continuationsOf(later.input.correlationId, { timeoutMs: 200 }), []);
    });
  });

  test('a cancelled run: 410 "Link has expired"', async () => {
    const created = await createIntervention(demoInput());
    await withPage(async (page) => {
      assert.equal((await page.goto(created.link)).status(), 200);
      // The reviewer has the form open when the run is cancelled; submitting then is refused too.
      await fillDemoForm(page);
      await cancelIntervention(created.interventionId);
      const posted = await submit(page);
      assert.equal(posted.status(), 410);
      await assertVisible(page.getByRole('heading', { level: 1, name: 'Link has expired', exact: true }));
      await expectRejection(page, created.link, 410, 'Link has expired');
      assert.deepEqual(await continuationsOf(created.input.correlationId, { timeoutMs: 200 }), []);
    });
  });

  test('a used-up link: 410 "Already used the maximum number of times"', async () => {
    const created = await createIntervention(approvalOnlyInput());
    await withPage(async (page) => {
      await page.goto(created.link);
      const posted = await submit(page);
      assert.equal(posted.status(), 200);
      await assertVisible(page.getByRole('heading', { name: SUCCESS_HEADING }));
      await expectRejection(page, created.link, 410, 'Already used the maximum number of times');
    });
  });

  test('a quorum: each page counts the approvals, the deciding vote queues one continuation, then "Already decided"', async () => {
    const { maxUrlUses, ...base } = demoInput();
    void maxUrlUses;
    const input = {
      ...base,
      formDocument: {
        title: 'Approve refund',
        fields: [{ key: 'decision', label: 'Decision', type: 'choice', options: ['approve', 'reject'], required: true }],
      },
      reviewers: [
        { id: 'ann@example.com', name: 'Ann' },
        { id: 'bob@example.com', name: 'Bob' },
        { id: 'cy@example.com', name: 'Cy' },
      ],
      quorum: { approvals: 2, field: 'decision', approve: 'approve', reject: 'reject' },
    };
    const response = await fetch(`${BASE_URL}/interventions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(input),
    });
    assert.equal(response.status, 200);
    const links = (await response.json()).context[LINK_KEY];
    assert.deepEqual(Object.keys(links), ['ann@example.com', 'bob@example.com', 'cy@example.com']);
    await withPage(async (page) => {
      for (const [who, name, soFar] of [['ann@example.com', 'Ann', 0], ['bob@example.com', 'Bob', 1]]) {
        assert.equal((await page.goto(links[who])).status(), 200);
        await assertVisible(page.getByText(`Answering as ${name}.`, { exact: true }), `${name}'s name`);
        await assertVisible(page.getByText(`${soFar} of 2 approvals so far.`, { exact: true }), `${soFar} of 2`);
        assert.equal(await page.getByText(who).count(), 0, 'the page never shows the reviewer id');
        await page.getByRole('group', { name: /^Decision/ }).getByLabel('approve', { exact: true }).check();
        const posted = await submit(page);
        assert.equal(posted.status(), 200);
        await assertVisible(page.getByRole('heading', { name: SUCCESS_HEADING }));
      }
      const queued = await continuationsOf(input.correlationId);
      await sleep(150);
      assert.equal(queued.length, 1, 'one continuation for the quorum');
      assert.equal(queued[0].outcome, 'approved');
      assert.deepEqual(queued[0].votes.map((v) => v.reviewerId), ['ann@example.com', 'bob@example.com']);
      const third = await page.goto(links['cy@example.com']);
      assert.equal(third.status(), 410);
      await assertVisible(page.getByRole('heading', { level: 1, name: 'Already decided', exact: true }));
      await assertVisible(page.getByText('This request was already decided: approved.', { exact: true }));
      assert.equal(await page.title(), 'Already decided');
      assert.equal(await page.locator('form').count(), 0, 'no form once decided');
      assert.equal((await continuationsOf(input.correlationId, { timeoutMs: 200 })).length, 1, 'nothing more queued');
    });
  });

  test('rejections keep the security headers', async () => {
    await withPage(async (page) => {
      const response = await page.goto(`${BASE_URL}/i/not-a-real-link`);
      const headers = response.headers();
      assert.match(headers['content-security-policy'] ?? '', /frame-ancestors 'none'/);
      assert.equal(headers['x-frame-options'], 'DENY');
      assert.equal(headers['cache-control'], 'no-store');
    });
  });
});

describe('hardening', () => {
  test('the page cannot be framed', async () => {
    const created = await createIntervention(demoInput());
    // Another origin (another loopback port) that tries to show the form in a frame.
    const framer = http.createServer((request, response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(
        `<!doctype html><title>framer</title><h1>Framer</h1>` +
          `<iframe id="victim" src="${created.link}" width="800" height="600"></iframe>`,
      );
    });
    await new Promise((resolve) => framer.listen(0, '127.0.0.1', resolve));
    const framerUrl = `http://127.0.0.1:${framer.address().port}/`;
    try {
      await withPage(
        async (page, seen) => {
          // The headers that forbid it.
          const direct = await page.goto(created.link);
          const headers = direct.headers();
          assert.match(headers['content-security-policy'] ?? '', /(^|;)\s*frame-ancestors 'none'\s*(;|$)/);
          assert.equal(headers['x-frame-options'], 'DENY');

          await page.goto(framerUrl);
          await page.locator('#victim').waitFor({ state: 'attached' });
          // The frame's navigation is blocked when the response arrives; give it time to settle.
          const deadline = Date.now() + 5_000;
          let frame;
          while (Date.now() < deadline) {
            frame = page.frames().find((f) => f !== page.mainFrame());
            if (frame && frame.url() !== 'about:blank' && frame.url() !== '') break;
            await sleep(50);
          }
          assert.ok(frame, 'the iframe exists');
          await sleep(300);
          let forms = 0;
          let text = '';
          try {
            forms = await frame.locator('form').count();
            text = await frame.locator('body').innerText({ timeout: 1_000 });
          } catch {
            // An error document that cannot be inspected renders nothing of ours either.
          }
          assert.equal(forms, 0, `the framed form rendered (frame url ${frame.url()})`);
          assert.doesNotMatch(text, /Approve refund|Submit/);
          assert.ok(
            frame.url() === created.link || frame.url().startsWith('chrome-error:'),
            `frame url ${frame.url()}`,
          );
          // Chromium says why it refused.
          assert.ok(
            seen.console.some((line) => /frame-ancestors|X-Frame-Options/i.test(line)),
            `a refusal on the console: ${JSON.stringify(seen.console)}`,
          );
        },
        { allowRefusals: true },
      );
    } finally {
      await new Promise((resolve) => framer.close(resolve));
    }
  });

  test('author, run and reviewer text is inert: no script, no image, no javascript: link', async () => {
    const SCRIPT = '<script>alert(1)</script>';
    const IMG = '"><img src=x onerror=alert(1)>';
    const TEXTAREA = '</textarea><script>alert(2)</script>';
    const input = demoInput({
      formDocument: {
        title: `${SCRIPT} Approve`,
        prompt: `Check ${IMG} and ${TEXTAREA}, then [x](javascript:alert(1)) or [docs](https://example.com/docs).\n\n${SCRIPT}`,
        show: ['order.id', 'payload.img', 'payload.textarea'],
        fields: [
          {
            key: 'pick',
            label: `${SCRIPT} Pick`,
            type: 'choice',
            options: [SCRIPT, IMG, TEXTAREA],
            required: true,
            help: IMG,
          },
          { key: 'note', label: `${IMG} Note`, type: 'text', multiline: true, prefill: 'payload.textarea', help: TEXTAREA },
          { key: 'name', label: `${TEXTAREA} Name`, type: 'text', prefill: 'payload.img' },
          { key: 'many', label: 'Many', type: 'choice', options: [SCRIPT, IMG, TEXTAREA, 'd', 'e', 'f'] },
          { key: 'tags', label: `Tags ${IMG}`, type: 'choice', multiple: true, options: [SCRIPT, IMG] },
          { key: 'ok', label: 'OK', type: 'boolean', required: true },
        ],
      },
      context: { 'order.id': SCRIPT, 'payload.img': IMG, 'payload.textarea': TEXTAREA, 'secret.x': SCRIPT },
      secretKeys: ['secret.x'],
    });
    const created = await createIntervention(input);

    /** Nothing the page could run or load came from the text. */
    async function assertInert(page) {
      await sleep(200);
      assert.equal(await page.locator('script').count(), 0, 'no script element');
      assert.equal(await page.locator('img').count(), 0, 'no img element');
      assert.equal(await page.locator('iframe, object, embed, svg, math').count(), 0);
      assert.equal(await page.locator('a[href^="javascript" i]').count(), 0, 'no javascript: link');
      const handlers = await page.evaluate(() =>
        [...document.querySelectorAll('*')].flatMap((el) =>
          [...el.attributes].filter((a) => a.name.startsWith('on')).map((a) => `${el.tagName}[${a.name}]`),
        ),
      );
      assert.deepEqual(handlers, [], 'no event handler attribute');
    }

    await withPage(async (page, seen) => {
      const response = await page.goto(created.link);
      assert.equal(response.status(), 200);
      await assertInert(page);
      // The text is shown literally.
      assert.equal(await page.title(), `${SCRIPT} Approve`);
      assert.equal(await page.locator('h1').textContent(), `${SCRIPT} Approve`);
      const prompt = page.locator('.prompt');
      const promptText = await prompt.textContent();
      assert.ok(promptText.includes(IMG), promptText);
      assert.ok(promptText.includes(TEXTAREA), promptText);
      assert.ok(promptText.includes(SCRIPT), promptText);
      assert.equal(await prompt.locator('a').count(), 1, 'only the https link stays a link');
      assert.equal(await prompt.getByRole('link', { name: 'docs' }).getAttribute('href'), 'https://example.com/docs');
      assert.match((await prompt.getByRole('link', { name: 'docs' }).getAttribute('rel')) ?? '', /noopener/);
      await assertVisible(page.locator('section.details dd', { hasText: IMG }));
      await assertVisible(page.locator('section.details dd', { hasText: TEXTAREA }));
      await assertVisible(page.locator('section.details dd', { hasText: SCRIPT }));
      assert.equal(await page.locator('section.details dt', { hasText: 'secret.x' }).count(), 0);
      const pick = page.getByRole('group', { name: new RegExp(`^${escapeRegExp(SCRIPT)} Pick`) });
      for (const option of [SCRIPT, IMG, TEXTAREA]) {
        assert.equal(await pick.getByLabel(option, { exact: true }).count(), 1, `option ${option}`);
      }
      await assertVisible(page.getByText(IMG, { exact: true }).first());
      await assertVisible(page.getByText(TEXTAREA, { exact: true }).first());
      const note = page.getByLabel(`${IMG} Note`);
      assert.equal(await note.inputValue(), TEXTAREA, 'the textarea holds the prefill, not more');
      const name = page.getByLabel(`${TEXTAREA} Name`);
      assert.equal(await name.inputValue(), IMG);
      const many = page.getByLabel('Many');
      assert.deepEqual(
        await many.locator('option').allTextContents(),
        ['Choose…', SCRIPT, IMG, TEXTAREA, 'd', 'e', 'f'],
      );

      // Reflected: the reviewer's own text on the 422 page (the required choice left empty).
      await name.fill(`${SCRIPT}${IMG}`);
      await note.fill(`${TEXTAREA}${IMG}`);
      await many.selectOption({ label: IMG });
      await page.getByRole('group', { name: /^Tags/ }).getByLabel(SCRIPT, { exact: true }).check();
      await page.getByLabel('OK').check();
      await page.locator('form').evaluate((form) => {
        form.noValidate = true;
      });
      const invalid = await submit(page);
      assert.equal(invalid.status(), 422);
      await assertInert(page);
      assert.equal(await name.inputValue(), `${SCRIPT}${IMG}`);
      assert.equal(await note.inputValue(), `${TEXTAREA}${IMG}`);
      assert.equal(await many.inputValue(), IMG);
      assert.equal(await pick.getByLabel(SCRIPT, { exact: true }).getAttribute('aria-invalid'), 'true');

      // Accepted: the success page shows the title literally too.
      await pick.getByLabel(TEXTAREA, { exact: true }).check();
      const accepted = await submit(page);
      assert.equal(accepted.status(), 200);
      await assertInert(page);
      assert.equal(await page.locator('.eyebrow').textContent(), `${SCRIPT} Approve`);
      const message = await onlyContinuation(created.input.correlationId);
      assert.equal(message.context.pick, TEXTAREA);
      assert.equal(message.context.name, `${SCRIPT}${IMG}`);
      assert.equal(message.context.note, `${TEXTAREA}${IMG}`);
      assert.equal(message.context.many, IMG);
      assert.deepEqual(message.context.tags, [SCRIPT]);
      assert.equal(message.context.ok, true);

      assert.deepEqual(seen.dialogs, []);
      assert.deepEqual(
        seen.console.filter((line) => CSP_OR_REFUSAL.test(line)),
        [],
        'no CSP violation: nothing even tried to run',
      );
    });
  });
});

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

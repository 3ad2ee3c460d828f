// Shared by browser.test.mjs and screenshots.mjs: the browser, the local server's operator routes, and
// the demo input (a copy of `demo_input` in shared/src/local.rs, as JSON).
import { createHmac, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

export const BASE_URL = (process.env.HI_BASE_URL || '').replace(/\/+$/, '');
if (!BASE_URL) {
  throw new Error('HI_BASE_URL is not set: run these through `bash tests/browser/run.sh`');
}

/** The context key every intervention here writes its link to (as the demo does). */
export const LINK_KEY = 'approval.url';

/** Debian's Chromium, headless, isolated: no network chatter, no GPU, a fresh temporary profile. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
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
    timeout: 30_000,
  });
}

/** The demo intervention (shared/src/local.rs `demo_input`), run available for a day, a single-use link. */
export function demoInput(overrides = {}) {
  const now = Date.now();
  return {
    environmentId: 'local',
    tier: 'Dedicated',
    correlationId: `browser-${randomUUID()}`,
    runAvailableUntil: new Date(now + 24 * 3_600_000).toISOString(),
    ruleSetId: 'refund-continue',
    urlExpirationHours: 1,
    maxUrlUses: 1,
    generatedUrlContextKey: LINK_KEY,
    formDocument: {
      title: 'Approve refund',
      prompt: 'Refund **120.50 EUR** to the customer for order *A-1001*?\n\nCheck the amount before you approve.',
      show: ['order.id', 'order.amount', 'customer.name'],
      fields: [
        { key: 'decision', label: 'Decision', type: 'choice', options: ['approve', 'reject'], required: true },
        { key: 'refund.amount', label: 'Amount (EUR)', type: 'decimal', min: 0, max: 1000, prefill: 'order.amount' },
        { key: 'refund.items', label: 'Items refunded', type: 'integer', min: 1, max: 20, default: 1 },
        { key: 'refund.reasons', label: 'Reasons', type: 'choice', multiple: true, options: ['damaged', 'late', 'wrong item'] },
        { key: 'refund.date', label: 'Refund date', type: 'date' },
        { key: 'followUp.at', label: 'Follow up at', type: 'datetime' },
        { key: 'reviewer.email', label: 'Your email', type: 'email', help: 'We send a copy of the decision here.' },
        { key: 'evidence.url', label: 'Evidence link', type: 'url' },
        { key: 'note', label: 'Note', type: 'text', multiline: true, maxLength: 500, help: 'Shown to the customer.' },
        { key: 'confirmed', label: 'I checked the order history', type: 'boolean', required: true },
      ],
    },
    context: { 'order.id': 'A-1001', 'order.amount': 120.5, 'customer.name': 'Ada Lovelace', 'customer.email': 'ada@example.com' },
    secretKeys: ['customer.email'],
    ...overrides,
  };
}

async function call(method, path, body) {
  const response = await fetch(`${BASE_URL}${path}`, {
    method,
    headers: body === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json', accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
  }
  return JSON.parse(text);
}

/** `POST /interventions`; returns the output plus `link` (the generated link) and the input used. */
export async function createIntervention(input = demoInput()) {
  const created = await call('POST', '/interventions', input);
  const link = created?.context?.[input.generatedUrlContextKey];
  if (typeof link !== 'string' || !link.startsWith(`${BASE_URL}/i/`)) {
    throw new Error(`no link under ${input.generatedUrlContextKey}: ${JSON.stringify(created)}`);
  }
  return { ...created, link, input };
}

/** `POST /interventions/{id}/cancel`. */
export function cancelIntervention(id) {
  return call('POST', `/interventions/${encodeURIComponent(id)}/cancel`);
}

/** `GET /continuations`: every queued continuation message, oldest first. */
export function continuations() {
  return call('GET', '/continuations');
}

/** The continuation messages of one run, once at least `count` are queued (the publisher is asynchronous). */
export async function continuationsOf(correlationId, { count = 1, timeoutMs = 5_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mine = (await continuations()).filter((m) => m.correlationId === correlationId);
    if (mine.length >= count || Date.now() > deadline) return mine;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the reviewer types into the demo form in the happy path, and what each must become. */
export const TYPED = {
  decision: 'approve',
  amount: '99.95',
  items: '3',
  reasons: ['damaged', 'wrong item'],
  date: '2026-12-01',
  datetime: '2026-12-02T09:30',
  email: 'reviewer@example.com',
  url: 'https://example.com/evidence/42',
  note: 'Refund approved & "checked" <b>twice</b>',
};

/** Fills every field of the demo form, by label, as a reviewer would. */
export async function fillDemoForm(page, values = TYPED) {
  const decision = page.getByRole('group', { name: /^Decision/ });
  await decision.getByLabel(values.decision, { exact: true }).check();
  await page.getByLabel('Amount (EUR)').fill(values.amount);
  await page.getByLabel('Items refunded').fill(values.items);
  const reasons = page.getByRole('group', { name: 'Reasons' });
  for (const reason of values.reasons) {
    await reasons.getByLabel(reason, { exact: true }).check();
  }
  await page.getByLabel('Refund date').fill(values.date);
  await page.getByLabel('Follow up at (UTC)').fill(values.datetime);
  await page.getByLabel('Your email').fill(values.email);
  await page.getByLabel('Evidence link').fill(values.url);
  await page.getByLabel('Note').fill(values.note);
  await page.getByLabel('I checked the order history').check();
}

/** Clicks Submit and returns the response of the POST that the navigation loads. */
export async function submit(page) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.request().isNavigationRequest()),
    page.getByRole('button', { name: 'Submit' }).click(),
  ]);
  await page.waitForLoadState('load');
  return response;
}

export const SUCCESS_HEADING = 'Thank you — your response was received';

/**
 * The one-click link for the option at `option` of a form link (`v1`, or a reviewer's `v2`), signed with
 * run.sh's key by this implementation of the documented token format (docs/interfaces.md, "One click"):
 * the form link's body (id, expiry, reviewer) with the option's index after it, under an HMAC-SHA256 over
 * purpose, version, key id and that body; `v3` (`v4` for a reviewer's).
 */
export function oneClickLink(formLink, option) {
  const spec = process.env.HI_LINK_SIGNING_KEY || '';
  const [kid, secret] = spec.split(':');
  if (!kid || !secret) throw new Error('HI_LINK_SIGNING_KEY is not set: run these through `bash tests/browser/run.sh`');
  const token = formLink.slice(formLink.indexOf('/i/') + 3);
  const [version, linkKid, body] = token.split('.');
  if (linkKid !== kid) throw new Error(`the link is signed with ${linkKid}, not ${kid}`);
  const fields = Buffer.from(body, 'base64url').subarray(0, version === 'v1' ? 24 : 25);
  const signed = Buffer.concat([fields, Buffer.from([option])]);
  const oneClick = version === 'v1' ? 'v3' : 'v4';
  const mac = createHmac('sha256', Buffer.from(secret, 'base64'));
  mac.update('human-intervention/link');
  mac.update(Buffer.from([0]));
  mac.update(oneClick);
  mac.update(Buffer.from([0]));
  mac.update(kid);
  mac.update(Buffer.from([0]));
  mac.update(signed);
  const tag = mac.digest();
  return `${BASE_URL}/i/${oneClick}.${kid}.${Buffer.concat([signed, tag]).toString('base64url')}`;
}

/** The demo input with a one-click form: one required single choice (with labels), the rest optional. */
export function oneClickInput(overrides = {}) {
  const input = demoInput({ action: { refund: { order: 'A-1001', amount: '120.50', currency: 'EUR' } }, ...overrides });
  input.formDocument = {
    ...input.formDocument,
    fields: [
      { key: 'decision', label: 'Decision', type: 'choice', required: true,
        options: [{ value: 'approve', label: 'Approve' }, { value: 'reject', label: 'Reject' }] },
      { key: 'refund.amount', label: 'Amount (EUR)', type: 'decimal', min: 0, max: 1000, prefill: 'order.amount' },
      { key: 'note', label: 'Note', type: 'text', multiline: true, maxLength: 500, help: 'Shown to the customer.' },
    ],
  };
  return input;
}

const axeSource = readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * axe-core's violations on the page as it stands (WCAG 2.x A and AA rules and best practices). Loaded through
 * the DevTools protocol: the page's CSP allows no script of its own, and none is added to it.
 */
export async function axeViolations(page) {
  await page.evaluate(await axeSource);
  const result = await page.evaluate(() =>
    globalThis.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa', 'best-practice'] } }),
  );
  if (result.passes.length === 0) throw new Error('axe checked nothing on the page');
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

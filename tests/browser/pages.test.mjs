// Headless-browser tests of midori's pages, against a running server with the walkthrough's
// demo data (README.md here says how to run them).
//
//   MIDORI_URL  the server (default http://127.0.0.1:8080)
//   TOUR        the walkthrough's directory: bond-id.txt, trial-id.txt, regulator.token,
//               issuer.token, label.jws (default /tmp/midori-tour)
//   MIDORI_SCREENSHOTS  a directory: when set, the last test writes full-page screenshots there
//
// Every page a test opens is watched: any console error or uncaught page error fails the test
// (a Content-Security-Policy violation shows as a console error), every document response must
// carry the strict CSP, and no page may hold a script element. Figures are never hard-coded:
// each chart is compared with what the JSON API answers for the same bond or trial.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

// ---------------------------------------------------------------------------------------------
// Settings and the walkthrough's data
// ---------------------------------------------------------------------------------------------

const BASE = (process.env.MIDORI_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
const TOUR = process.env.TOUR ?? '/tmp/midori-tour';
const SHOTS = process.env.MIDORI_SCREENSHOTS;

function tour(name) {
  const path = join(TOUR, name);
  assert.ok(existsSync(path), `${path} is missing: set TOUR to the walkthrough's directory`);
  return readFileSync(path, 'utf8').trim();
}

const BOND = tour('bond-id.txt');
const TRIAL = tour('trial-id.txt');
const REGULATOR_KEY = tour('regulator.token');
const ISSUER_KEY = tour('issuer.token');
const LABEL_JWS = tour('label.jws');

const CHROMIUM = {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
};

const ENGLISH_DATE = /^\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}$/;
const JAPANESE_DATE = /\d{4}年\d{1,2}月\d{1,2}日/;
const ENGLISH_DATE_ANYWHERE = /\b\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}\b/;

let browser;
before(async () => {
  browser = await chromium.launch(CHROMIUM);
});
after(async () => {
  await browser?.close();
});

// ---------------------------------------------------------------------------------------------
// Helpers: the JSON API
// ---------------------------------------------------------------------------------------------

/** `GET path` on the JSON API (as `token`'s holder when given), parsed. */
async function api(path, token) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(BASE + path, { headers });
  assert.equal(response.status, 200, `GET ${path} answers 200`);
  return response.json();
}

/** Two decimal strings name the same number ("4000000000" and "4000000000.00" do). */
function sameDecimal(a, b) {
  const norm = (s) => {
    let [int, frac = ''] = String(s).trim().split('.');
    int = int.replace(/^(-?)0+(?=\d)/, '$1');
    frac = frac.replace(/0+$/, '');
    return frac ? `${int}.${frac}` : int;
  };
  return norm(a) === norm(b);
}

function assertSameDecimal(actual, expected, what) {
  assert.ok(sameDecimal(actual, expected), `${what}: page shows ${actual}, the API says ${expected}`);
}

// ---------------------------------------------------------------------------------------------
// Helpers: browser contexts and watched pages
// ---------------------------------------------------------------------------------------------

/** A fresh browser profile reading `lang` (en or ja), closed when test `t` ends. */
async function newContext(t, lang = 'en') {
  const context = await browser.newContext({
    locale: lang === 'ja' ? 'ja-JP' : 'en-US',
    extraHTTPHeaders: { 'Accept-Language': lang },
    viewport: { width: 1200, height: 900 },
  });
  t.after(() => context.close());
  return context;
}

/** What each watched page has logged, and which failing document responses a test expects. */
const watches = new WeakMap();

/** A page whose console errors and uncaught errors are recorded from the start. */
async function openPage(context) {
  const page = await context.newPage();
  const watch = { problems: [], expectedFailures: [] };
  page.on('console', (msg) => {
    if (msg.type() === 'error') {
      watch.problems.push({ text: msg.text(), source: msg.location().url ?? '', at: page.url() });
    }
  });
  page.on('pageerror', (error) => {
    watch.problems.push({ text: `uncaught ${error.name}: ${error.message}`, source: '', at: page.url() });
  });
  watches.set(page, watch);
  return page;
}

/** Chromium's own message for a document answered with an error status. */
function isFailedLoad(problem, url, status) {
  return (
    problem.source === url &&
    problem.text.startsWith(`Failed to load resource: the server responded with a status of ${status} `)
  );
}

/** The browser's request for /favicon.ico when a page names no icon of its own. */
function isFaviconMiss(problem) {
  return problem.source === `${BASE}/favicon.ico` && problem.text.startsWith('Failed to load resource');
}

/**
 * Fails on any console error or page error the page has logged so far, except the status line
 * Chromium logs for a document the test expected to fail (a 401 sign-in page, a 404 page).
 */
function assertNoConsoleErrors(page) {
  const watch = watches.get(page);
  const unexpected = watch.problems.filter(
    (p) =>
      !watch.expectedFailures.some(({ url, status }) => isFailedLoad(p, url, status)),
  );
  assert.deepEqual(
    unexpected.map((p) => `${p.text}${p.source ? ` [${p.source}]` : ''} (on ${p.at})`),
    [],
    'no console errors and no page errors',
  );
}

/** The CSP every page carries: nothing is allowed unless named, and no script at all. */
function assertStrictCsp(response) {
  const csp = response.headers()['content-security-policy'];
  const url = response.url();
  assert.ok(csp, `${url} carries a Content-Security-Policy`);
  assert.match(csp, /(^|;)\s*default-src 'none'\s*(;|$)/, `${url}: CSP has default-src 'none' (${csp})`);
  assert.doesNotMatch(csp, /script-src/, `${url}: CSP allows no script source (${csp})`);
  assert.doesNotMatch(csp, /unsafe-/, `${url}: CSP has no unsafe- keyword (${csp})`);
}

/**
 * The checks every page gets once it has settled: the expected status, the CSP on the document
 * and on every redirect that led to it, no script element, no console or page error.
 */
async function checkPage(page, response, status) {
  assert.ok(response, `a document response for ${page.url()}`);
  assert.equal(response.status(), status, `${response.url()} answers ${status}`);
  if (status >= 400) watches.get(page).expectedFailures.push({ url: response.url(), status });
  assertStrictCsp(response);
  for (let hop = response.request().redirectedFrom(); hop; hop = hop.redirectedFrom()) {
    const redirect = await hop.response();
    if (redirect) assertStrictCsp(redirect);
  }
  await page.waitForLoadState('networkidle');
  assert.equal(await page.locator('script').count(), 0, `${page.url()} holds no script element`);
  assertNoConsoleErrors(page);
  return response;
}

/** Opens `path` in `page` and runs the checks every page gets. */
async function visit(page, path, { status = 200 } = {}) {
  const response = await page.goto(BASE + path, { waitUntil: 'load' });
  return checkPage(page, response, status);
}

/** Clicks `selector` (a submit button or a link) and checks the page the browser lands on. */
async function follow(page, selector, { status = 200 } = {}) {
  const landed = page.waitForResponse(
    (r) =>
      r.request().isNavigationRequest() &&
      r.frame() === page.mainFrame() &&
      !(r.status() >= 300 && r.status() < 400),
  );
  const [response] = await Promise.all([landed, page.click(selector)]);
  await page.waitForLoadState('load');
  return checkPage(page, response, status);
}

/** Text content of the first element matching `selector`. */
async function text(page, selector) {
  return ((await page.locator(selector).first().textContent()) ?? '').trim();
}

/** A cookie of the context by name, or undefined. */
async function cookie(context, name) {
  return (await context.cookies(BASE)).find((c) => c.name === name);
}

// ---------------------------------------------------------------------------------------------
// Helpers: charts (server-drawn SVG: one g.bar per figure, its exact value in data-value)
// ---------------------------------------------------------------------------------------------

/** The bars of chart `svg#id`: label, value, the drawn width attribute and the rendered width. */
async function bars(page, id) {
  const rows = page.locator(`svg#${id} g.bar`);
  const out = [];
  for (let i = 0; i < (await rows.count()); i++) {
    const row = rows.nth(i);
    const rect = row.locator('rect');
    const box = await rect.boundingBox();
    out.push({
      label: await row.getAttribute('data-label'),
      value: await row.getAttribute('data-value'),
      width: Number(await rect.getAttribute('width')),
      rendered: box?.width ?? 0,
      fill: await rect.evaluate((el) => getComputedStyle(el).fill),
      shown: ((await row.locator('text.value').textContent()) ?? '').trim(),
    });
  }
  return out;
}

/**
 * Chart `svg#id` is drawn: a non-empty box on the page, every bar's value written beside it,
 * a bar of non-zero width for a positive value and none for zero, coloured by the stylesheet,
 * and all bars on one scale (widths in proportion to values, within a pixel).
 */
async function assertChartDrawn(page, id) {
  const svg = page.locator(`svg#${id}`);
  assert.equal(await svg.count(), 1, `svg#${id} is on the page`);
  const box = await svg.boundingBox();
  assert.ok(box && box.width > 0 && box.height > 0, `svg#${id} has a non-empty box (${JSON.stringify(box)})`);
  const drawn = await bars(page, id);
  assert.ok(drawn.length > 0, `svg#${id} has bars`);
  const positive = drawn.filter((b) => Number(b.value) > 0);
  const largest = Math.max(...positive.map((b) => Number(b.value)));
  const fullWidth = Math.max(...drawn.map((b) => b.width));
  for (const b of drawn) {
    assert.ok(b.shown.length > 0, `svg#${id} "${b.label}" writes its value`);
    if (Number(b.value) > 0) {
      assert.ok(b.width > 0 && b.rendered > 0, `svg#${id} "${b.label}" (${b.value}) is drawn wider than 0`);
      assert.notEqual(b.fill, 'rgb(0, 0, 0)', `svg#${id} "${b.label}" is coloured by the stylesheet`);
      const expected = Math.max(1, (fullWidth * Number(b.value)) / largest);
      assert.ok(
        Math.abs(b.width - expected) <= 1,
        `svg#${id} "${b.label}": width ${b.width} is in proportion to ${b.value} (expected ≈${expected.toFixed(1)})`,
      );
    } else {
      assert.equal(b.width, 0, `svg#${id} "${b.label}" (${b.value}) draws no bar`);
    }
  }
  return drawn;
}

// ---------------------------------------------------------------------------------------------
// Helpers: the regulators' console
// ---------------------------------------------------------------------------------------------

/** Signs in at /regulator/ with `key`; the sign-in answers `status` (401 when refused). */
async function signIn(page, key, { status = 200 } = {}) {
  await visit(page, '/regulator/', { status: 401 });
  await page.fill('input#api_key', key);
  return follow(page, 'form.sign-in button[type=submit]', { status });
}

// =============================================================================================
// a. The directory
// =============================================================================================

test('the directory lists the walkthrough bond with its label badge, and a kind filter that excludes it shows the empty notice', async (t) => {
  const page = await openPage(await newContext(t));
  await visit(page, '/');

  const link = page.locator(`table.bonds a[href="/bonds/${BOND}"]`);
  assert.equal(await link.count(), 1, 'the bond links to its page');
  const bond = await api(`/v1/bonds/${BOND}`);
  assert.equal((await link.textContent()).trim(), bond.terms.name, 'the link reads the bond name');

  const row = page.locator('table.bonds tbody tr', { has: page.locator(`a[href="/bonds/${BOND}"]`) });
  const badge = row.locator('span.badge');
  assert.equal(await badge.count(), 1, 'the row shows one label badge');
  assert.match((await badge.getAttribute('data-status')) ?? '', /^[a-z_]+$/, 'the badge names a status');
  assert.ok(await badge.isVisible(), 'the badge is visible');
  assert.ok(((await badge.textContent()) ?? '').trim().length > 0, 'the badge says the status in words');
  assert.equal(await page.locator('p.empty').count(), 0, 'no empty notice while a bond is listed');

  await visit(page, '/?kind=social');
  assert.equal(await page.locator(`a[href="/bonds/${BOND}"]`).count(), 0, 'a social-bond filter hides the green bond');
  assert.ok(await page.locator('p.empty').isVisible(), 'the empty notice shows');
  assert.ok((await text(page, 'p.empty')).length > 0, 'the empty notice has words');
  assert.equal(await page.locator('select[name=kind]').inputValue(), 'social', 'the filter keeps its choice');
});

// =============================================================================================
// b. A bond's page in English: labels and charts
// =============================================================================================

test("the bond page in English shows every label with its badge, and its allocation and impact charts draw the API's figures", async (t) => {
  const page = await openPage(await newContext(t, 'en'));
  await visit(page, `/bonds/${BOND}`);

  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  const bond = await api(`/v1/bonds/${BOND}`);
  assert.equal(await text(page, 'main h1'), bond.terms.name);
  assert.equal(await text(page, '#allocation h2'), 'Allocation of proceeds');

  const labels = page.locator('section.label');
  assert.ok((await labels.count()) >= 1, 'at least one label section');
  for (let i = 0; i < (await labels.count()); i++) {
    const section = labels.nth(i);
    const scheme = await section.getAttribute('data-scheme');
    const badge = section.locator('span.badge[data-status]');
    assert.equal(await badge.count(), 1, `the label under ${scheme} has one badge`);
    assert.ok(await badge.isVisible(), `the badge under ${scheme} is visible`);
  }

  // Allocation: financing, refinancing, unallocated, in that order, as the API reckons them.
  const allocation = await api(`/v1/bonds/${BOND}/allocation`);
  const use = await assertChartDrawn(page, 'chart-allocation-use');
  assert.equal(use.length, 3, 'three bars: financing, refinancing, unallocated');
  assertSameDecimal(use[0].value, allocation.financing, 'financing');
  assertSameDecimal(use[1].value, allocation.refinancing, 'refinancing');
  assertSameDecimal(use[2].value, allocation.unallocated, 'unallocated');

  // Impact: the first chart is the first indicator (by indicator, then unit) of the figures in force.
  const impact = await api(`/v1/bonds/${BOND}/impact`);
  const inForce = impact.figures.filter((f) => f.in_force);
  assert.ok(inForce.length > 0, 'the API has an impact figure in force');
  const key = (f) => `${f.indicator}\u0000${f.unit}`;
  const first = [...new Set(inForce.map(key))].sort()[0];
  const series = inForce.filter((f) => key(f) === first);
  const drawn = await assertChartDrawn(page, 'chart-impact-0');
  assert.equal(drawn.length, series.length, 'one bar per reporting period in force');
  for (const figure of series) {
    assert.ok(
      drawn.some((b) => sameDecimal(b.value, figure.value)),
      `a bar shows the figure in force ${figure.value} ${figure.unit} (bars: ${drawn.map((b) => b.value)})`,
    );
  }
  assert.match(
    (await page.locator('svg#chart-impact-0').getAttribute('aria-label')) ?? '',
    new RegExp(`\\(${series[0].unit.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)`),
    'the chart names its unit',
  );

  assert.match(await text(page, '#terms dd'), ENGLISH_DATE, 'the issue date reads as an English date');
});

// =============================================================================================
// c. Japanese and English
// =============================================================================================

test('with Accept-Language ja the bond page is in Japanese, with Japanese dates', async (t) => {
  const page = await openPage(await newContext(t, 'ja'));
  await visit(page, `/bonds/${BOND}`);

  assert.equal(await page.locator('html').getAttribute('lang'), 'ja');
  assert.equal(await text(page, '#allocation h2'), '調達資金の充当状況');
  assert.match(await text(page, '#terms dd:nth-of-type(1)'), new RegExp(`^${JAPANESE_DATE.source}$`), 'issue date');
  assert.match(await text(page, '#terms dd:nth-of-type(2)'), new RegExp(`^${JAPANESE_DATE.source}$`), 'maturity date');
  assert.match(await text(page, 'section.label p'), JAPANESE_DATE, "the label's since-date");

  // The page's own words carry no English dates (text the service states in English is marked lang="en").
  const ownText = await page.locator('main').evaluate((main) => {
    const copy = main.cloneNode(true);
    copy.querySelectorAll('[lang]:not([lang="ja"])').forEach((el) => el.remove());
    return copy.textContent;
  });
  assert.doesNotMatch(ownText, ENGLISH_DATE_ANYWHERE, 'no English-style date in the Japanese page');
});

test('the language switch turns an English page to Japanese and back, remembering the choice in the lang cookie', async (t) => {
  const context = await newContext(t, 'en');
  const page = await openPage(context);
  await visit(page, `/bonds/${BOND}`);
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');

  const toJapanese = page.locator('a.lang-switch');
  assert.ok(await toJapanese.isVisible(), 'the switch is visible');
  assert.equal(await toJapanese.getAttribute('hreflang'), 'ja');
  await follow(page, 'a.lang-switch');
  assert.equal(new URL(page.url()).pathname, `/bonds/${BOND}`, 'back on the same page');
  assert.equal(await page.locator('html').getAttribute('lang'), 'ja');
  assert.equal(await text(page, '#allocation h2'), '調達資金の充当状況');
  assert.equal((await cookie(context, 'lang'))?.value, 'ja', 'the lang cookie says ja');

  // The cookie outranks the browser's Accept-Language: en on every later page.
  await visit(page, '/labels/verify');
  assert.equal(await page.locator('html').getAttribute('lang'), 'ja', 'the choice holds on the next page');

  await visit(page, `/bonds/${BOND}`);
  assert.equal(await page.locator('a.lang-switch').getAttribute('hreflang'), 'en');
  await follow(page, 'a.lang-switch');
  assert.equal(new URL(page.url()).pathname, `/bonds/${BOND}`, 'back on the same page');
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  assert.equal(await text(page, '#allocation h2'), 'Allocation of proceeds');
  assert.equal((await cookie(context, 'lang'))?.value, 'en', 'the lang cookie says en');
});

// =============================================================================================
// d. The label checker
// =============================================================================================

/** The walkthrough's label with one character of its payload (the middle segment) changed. */
function tamperedLabel() {
  const [header, payload, signature] = LABEL_JWS.split('.');
  const at = Math.floor(payload.length / 2);
  const swapped = payload[at] === 'A' ? 'B' : 'A';
  return [header, payload.slice(0, at) + swapped + payload.slice(at + 1), signature].join('.');
}

/** Pastes `jws` into the checker and submits it; the result section. */
async function checkLabel(page, jws) {
  await visit(page, '/labels/verify');
  await page.fill('textarea#jws', jws);
  await follow(page, 'form.verify button[type=submit]');
  const result = page.locator('section.result');
  assert.equal(await result.count(), 1, 'one result section');
  return result;
}

test('the label checker accepts the walkthrough label, naming its bond with readable dates, and rejects a tampered copy', async (t) => {
  const page = await openPage(await newContext(t, 'en'));
  const bond = await api(`/v1/bonds/${BOND}`);

  const result = await checkLabel(page, LABEL_JWS);
  assert.equal(await result.getAttribute('data-valid'), 'true', `valid: ${await result.textContent()}`);
  assert.ok((await result.textContent()).includes(bond.terms.name), 'the result names the bond');
  assert.equal(await result.locator(`a[href="/bonds/${BOND}"]`).count(), 1, "the result links to the bond's page");
  assert.equal(await result.locator('span.badge[data-status]').count(), 1, 'the result shows the certified status');
  const until = result.locator('dt', { hasText: 'Valid until' }).locator('xpath=following-sibling::dd[1]');
  assert.equal(await until.count(), 1, 'the result says until when the label is valid');
  const untilText = (await until.textContent()).trim();
  assert.doesNotMatch(untilText, /\b\d{10}\b/, `"Valid until" is no bare Unix time (${untilText})`);
  assert.match(untilText, /^\d{1,2} [A-Z][a-z]{2} \d{4}/, `"Valid until" reads as a date (${untilText})`);
  assert.doesNotMatch(await result.textContent(), /\b\d{10}\b/, 'no bare Unix time anywhere in the result');

  const tampered = await checkLabel(page, tamperedLabel());
  assert.equal(await tampered.getAttribute('data-valid'), 'false', 'a tampered label is not valid');
  assert.equal(await tampered.locator(`a[href="/bonds/${BOND}"]`).count(), 0, 'a tampered label certifies nothing');
});

test("the label checker's verdict is styled as such: section.result has class valid or invalid", async (t) => {
  // The stylesheet colours the result's border by `section.result.valid` / `.invalid`.
  const page = await openPage(await newContext(t, 'en'));
  const valid = await checkLabel(page, LABEL_JWS);
  assert.equal(await valid.getAttribute('data-valid'), 'true');
  assert.equal(await valid.getAttribute('class'), 'result valid', 'a valid label: class "result valid"');
  const invalid = await checkLabel(page, tamperedLabel());
  assert.equal(await invalid.getAttribute('data-valid'), 'false');
  assert.equal(await invalid.getAttribute('class'), 'result invalid', 'a refused label: class "result invalid"');
});

// =============================================================================================
// e. The regulators' console
// =============================================================================================

test("signed out, the console's pages answer 401 with the sign-in form and show nothing of the trials or the audit", async (t) => {
  const trial = await api(`/v1/trials/${TRIAL}`, REGULATOR_KEY);
  const page = await openPage(await newContext(t, 'en'));
  for (const path of ['/regulator/', '/regulator/audit', `/regulator/trials/${TRIAL}`]) {
    await visit(page, path, { status: 401 });
    assert.ok(await page.locator('form.sign-in').isVisible(), `${path} shows the sign-in form`);
    assert.equal(await page.locator('input#api_key').getAttribute('type'), 'password', 'the key is typed unseen');
    assert.equal(await page.locator('table.audit').count(), 0, `${path} shows no audit table`);
    assert.equal(await page.locator('table.trials').count(), 0, `${path} shows no trials table`);
    assert.equal(await page.locator('nav.console, form.sign-out').count(), 0, `${path} shows no console`);
    assert.ok(!(await page.locator('main').textContent()).includes(trial.title), `${path} does not show the trial title`);
  }
});

test("an issuer's API key is refused at sign-in: the error shows, the form stays, no session starts", async (t) => {
  const context = await newContext(t, 'en');
  const page = await openPage(context);
  await signIn(page, ISSUER_KEY, { status: 401 });
  assert.equal(new URL(page.url()).pathname, '/regulator/sign-in');
  assert.ok(await page.locator('p.error').isVisible(), 'an error is shown');
  assert.ok((await text(page, 'p.error')).length > 0, 'the error has words');
  assert.ok(await page.locator('form.sign-in').isVisible(), 'still the sign-in form');
  assert.equal(await page.locator('nav.console').count(), 0, 'not signed in');
  assert.equal(await cookie(context, 'midori_session'), undefined, 'no session cookie');
});

test('a regulator signs in and works the console: trials, a trial report matching the API, a replay, the audit; then signs out', async (t) => {
  const context = await newContext(t, 'en');
  const page = await openPage(context);
  const trial = await api(`/v1/trials/${TRIAL}`, REGULATOR_KEY);
  const report = await api(`/v1/trials/${TRIAL}/report`, REGULATOR_KEY);

  await t.test('signing in lands on the trials, which list the walkthrough trial', async () => {
    await signIn(page, REGULATOR_KEY);
    assert.equal(new URL(page.url()).pathname, '/regulator/');
    assert.ok(await page.locator('form.sign-out').isVisible(), 'signed in: the sign-out button shows');
    const link = page.locator(`table.trials a[href="/regulator/trials/${TRIAL}"]`);
    assert.equal(await link.count(), 1, 'the trial links to its page');
    assert.equal((await link.textContent()).trim(), trial.title);
    // Its standing in the list is the report's: status, accepted and refused.
    const row = page.locator('table.trials tbody tr', { has: page.locator(`a[href="/regulator/trials/${TRIAL}"]`) });
    assert.equal(await row.locator('td.status').getAttribute('data-status'), report.status);
    const figures = row.locator('td.num');
    assert.equal((await figures.nth(0).textContent()).trim(), report.transactions.accepted.toLocaleString('en-US'));
    assert.equal((await figures.nth(1).textContent()).trim(), report.transactions.refused.toLocaleString('en-US'));
  });

  await t.test('the session cookie is HttpOnly and SameSite=Strict; the pre-session CSRF cookie is gone', async () => {
    const session = await cookie(context, 'midori_session');
    assert.ok(session, 'a midori_session cookie');
    assert.equal(session.httpOnly, true, 'HttpOnly');
    assert.equal(session.sameSite, 'Strict', 'SameSite=Strict');
    assert.equal(session.path, '/');
    assert.equal(await cookie(context, 'midori_csrf'), undefined, 'midori_csrf cleared at sign-in');
  });

  await t.test("the trial page shows the report's verdicts, violations, outstanding amount and exposure over time as the API does", async () => {
    await follow(page, `table.trials a[href="/regulator/trials/${TRIAL}"]`);
    assert.equal(await text(page, 'main h1'), trial.title);

    const verdicts = page.locator('#verdicts dl[data-total]');
    assert.equal(await verdicts.count(), 1, 'the verdict figures');
    assert.equal(await verdicts.getAttribute('data-total'), String(report.transactions.total), 'total');
    assert.equal(await verdicts.getAttribute('data-accepted'), String(report.transactions.accepted), 'accepted');
    assert.equal(await verdicts.getAttribute('data-refused'), String(report.transactions.refused), 'refused');

    const rules = Object.entries(report.violations ?? {});
    if (rules.length === 0) {
      assert.equal(await page.locator('svg#chart-violations').count(), 0, 'no violations chart');
      assert.ok(await page.locator('#verdicts p.empty').isVisible(), 'the no-violation notice');
    } else {
      const drawn = await assertChartDrawn(page, 'chart-violations');
      assert.equal(drawn.length, rules.length, 'one bar per rule');
      for (const [rule, count] of rules) {
        const bar = drawn.find((b) => b.label === rule);
        assert.ok(bar, `a bar for ${rule}`);
        assertSameDecimal(bar.value, count, `violations of ${rule}`);
      }
    }

    const outstanding = await assertChartDrawn(page, 'chart-outstanding');
    assertSameDecimal(outstanding[0].value, report.outstanding.amount, 'amount outstanding');
    if (report.outstanding.cap != null) {
      assert.equal(outstanding.length, 2, 'outstanding and the aggregate cap');
      assertSameDecimal(outstanding[1].value, report.outstanding.cap, 'aggregate cap');
    }

    // Exposure against caps over time: each capped participant's line ends at the report's
    // exposure now, and its dashed cap line at its cap.
    const capped = Object.entries(report.participants ?? {}).filter(([, p]) => p.cap != null);
    if (capped.length > 0) {
      const svg = page.locator('svg#chart-exposure-history');
      assert.equal(await svg.count(), 1, 'the exposure-over-time chart');
      const box = await svg.boundingBox();
      assert.ok(box && box.width > 0 && box.height > 0, 'it is drawn');
      for (const [party, p] of capped.slice(0, 5)) {
        const lines = svg.locator(`g.series[data-label*="${party}"]`);
        assert.equal(await lines.count(), 2, `${party}: exposure and cap lines`);
        const exposure = (await lines.nth(0).getAttribute('data-values')).split(',');
        const cap = (await lines.nth(1).getAttribute('data-values')).split(',');
        assert.ok(exposure.length >= 1 && exposure.length === cap.length, 'a value per point');
        assertSameDecimal(exposure.at(-1), p.exposure ?? '0', `${party}: exposure now`);
        assertSameDecimal(cap.at(-1), p.cap, `${party}: cap`);
        const points = await lines.nth(0).locator('polyline').getAttribute('points');
        assert.equal(points.trim().split(/\s+/).length, exposure.length, 'one point per value');
      }
    }
  });

  await t.test("replaying with an empty rulebook confirms every recorded verdict", async () => {
    assert.equal(await page.locator('textarea#rulebook').inputValue(), '');
    await follow(page, 'form.replay button[type=submit]');
    const result = page.locator('section.replay-result');
    assert.equal(await result.count(), 1, 'the replay result');
    assert.equal(await result.getAttribute('data-consistent'), 'true', `consistent: ${await result.textContent()}`);
    assert.equal(await result.getAttribute('data-mismatches'), '0');
  });

  await t.test('the audit re-verifies every ledger with no failure', async () => {
    await follow(page, 'nav.console a[href="/regulator/audit"]');
    assert.equal(await page.locator('table.audit').count(), 1, 'the audit table');
    assert.equal(await page.locator('p.lead').getAttribute('data-failed'), '0', 'no ledger failed');
    assert.equal(await page.locator('table.audit tbody tr.bad').count(), 0, 'no failed row');
    assert.equal(await page.locator(`table.audit a[href="/bonds/${BOND}"]`).count(), 1, "the bond's ledger is audited");
    assert.equal(
      await page.locator(`table.audit a[href="/regulator/trials/${TRIAL}"]`).count(),
      1,
      "the trial's ledger is audited",
    );
  });

  await t.test('signing out ends the session: the console asks for a key again', async () => {
    await follow(page, 'form.sign-out button[type=submit]', { status: 401 });
    assert.equal(new URL(page.url()).pathname, '/regulator/');
    assert.ok(await page.locator('form.sign-in').isVisible(), 'the sign-in form again');
    assert.equal(await cookie(context, 'midori_session'), undefined, 'the session cookie is cleared');
    await visit(page, `/regulator/trials/${TRIAL}`, { status: 401 });
    assert.ok(await page.locator('form.sign-in').isVisible(), 'the trial page wants a sign-in too');
  });
});

// =============================================================================================
// f. CSRF
// =============================================================================================

test("the console refuses a form post without its CSRF token (403), with or without a session", async (t) => {
  await t.test('signed in: a replay post with no csrf field or a wrong one is refused; the right one works', async (t) => {
    const context = await newContext(t, 'en');
    const page = await openPage(context);
    await signIn(page, REGULATOR_KEY);
    await visit(page, `/regulator/trials/${TRIAL}`);
    const csrf = await page.locator('form.replay input[name=csrf]').inputValue();
    assert.ok(csrf.length > 0, 'the form carries a token');
    const url = `${BASE}/regulator/trials/${TRIAL}/replay`;

    const missing = await context.request.post(url, { form: { rulebook: '' }, maxRedirects: 0 });
    assert.equal(missing.status(), 403, 'no csrf field: 403');
    assert.match(await missing.text(), /data-status="403"/, 'the refusal page says 403');
    assertStrictCsp(missing);

    const wrongToken = csrf.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
    const wrong = await context.request.post(url, { form: { rulebook: '', csrf: wrongToken }, maxRedirects: 0 });
    assert.equal(wrong.status(), 403, 'a wrong csrf: 403');

    // The control: the same request with the page's token goes through, so the 403s are the CSRF check.
    const right = await context.request.post(url, { form: { rulebook: '', csrf }, maxRedirects: 0 });
    assert.equal(right.status(), 200, 'the right csrf: 200');
    assert.match(await right.text(), /class="replay-result"/, 'the replay ran');
  });

  await t.test('signed out: a sign-in post with a valid key but no csrf, or a wrong one, is refused and starts no session', async (t) => {
    const context = await newContext(t, 'en');
    const page = await openPage(context);
    await visit(page, '/regulator/', { status: 401 });
    const csrf = await page.locator('form.sign-in input[name=csrf]').inputValue();
    assert.ok(await cookie(context, 'midori_csrf'), 'the sign-in page set its CSRF cookie');
    const url = `${BASE}/regulator/sign-in`;

    const missing = await context.request.post(url, { form: { api_key: REGULATOR_KEY }, maxRedirects: 0 });
    assert.equal(missing.status(), 403, 'no csrf field: 403');
    const wrongToken = csrf.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
    const wrong = await context.request.post(url, {
      form: { api_key: REGULATOR_KEY, csrf: wrongToken },
      maxRedirects: 0,
    });
    assert.equal(wrong.status(), 403, 'a wrong csrf: 403');
    assert.equal(await cookie(context, 'midori_session'), undefined, 'no session started');

    const right = await context.request.post(url, { form: { api_key: REGULATOR_KEY, csrf }, maxRedirects: 0 });
    assert.equal(right.status(), 303, 'the right csrf: signed in and sent on');
    assert.equal(right.headers().location, '/regulator/');
    assert.ok(await cookie(context, 'midori_session'), 'a session started');
  });
});

// =============================================================================================
// g. Content-Security-Policy and no script, on every page
// =============================================================================================

test("every page carries a Content-Security-Policy with default-src 'none' and holds no script element", async (t) => {
  // visit() and follow() check this on every page of every test; this test walks them all once.
  const checked = [];
  const context = await newContext(t, 'en');
  const page = await openPage(context);
  const see = async (path, status = 200) => {
    await visit(page, path, { status });
    checked.push(`${path} ${status}`);
  };
  await see('/');
  await see('/?kind=social');
  await see(`/bonds/${BOND}`);
  await see('/bonds/00000000-0000-0000-0000-000000000000', 404);
  await see('/labels/verify');
  await page.fill('textarea#jws', LABEL_JWS);
  await follow(page, 'form.verify button[type=submit]');
  await see('/regulator/', 401);
  await see('/regulator/audit', 401);
  await see(`/regulator/trials/${TRIAL}`, 401);
  await signIn(page, REGULATOR_KEY);
  await see('/regulator/');
  await see(`/regulator/trials/${TRIAL}`);
  await follow(page, 'form.replay button[type=submit]');
  await see('/regulator/audit');
  await follow(page, 'a.lang-switch'); // the /lang redirect is checked too
  assert.equal(await page.locator('html').getAttribute('lang'), 'ja');
  await follow(page, 'form.sign-out button[type=submit]', { status: 401 });
  await see(`/bonds/${BOND}`);
  assert.ok(checked.length >= 12);

  const css = await context.request.get(`${BASE}/assets/midori.css`);
  assert.equal(css.status(), 200);
  assert.match(css.headers()['content-type'] ?? '', /^text\/css/, 'the stylesheet is served as CSS');
});

// =============================================================================================
// Defects found along the way, each its own specification
// =============================================================================================

test('the site has an icon, so a browser logs no 404 for /favicon.ico', async (t) => {
  // Chromium asks for /favicon.ico on a site's first page unless the page names an icon; a 404
  // there is a console error on every first visit.
  const page = await openPage(await newContext(t, 'en'));
  await visit(page, '/');
  await page.waitForTimeout(1000);
  const icon = page.locator('link[rel~="icon"]');
  const href = (await icon.count()) > 0 ? await icon.first().getAttribute('href') : '/favicon.ico';
  if (!href.startsWith('data:')) {
    const response = await page.request.get(new URL(href, BASE).href);
    assert.equal(response.status(), 200, `the icon ${href} answers 200`);
  }
  const misses = watches.get(page).problems.filter(isFaviconMiss).map((p) => p.text);
  assert.deepEqual(misses, [], 'no console error for the icon');
});

test("the English bond page separates eligible categories with English punctuation, not the Japanese 、", async (t) => {
  const page = await openPage(await newContext(t, 'en'));
  await visit(page, `/bonds/${BOND}`);
  const categories = page.locator('#terms dt', { hasText: 'Eligible categories' }).locator('xpath=following-sibling::dd[1]');
  assert.equal(await categories.count(), 1);
  const shown = (await categories.textContent()).trim();
  assert.doesNotMatch(shown, /、/, `English list (${shown})`);
});

// =============================================================================================
// Screenshots (only with MIDORI_SCREENSHOTS=<directory>)
// =============================================================================================

test(
  'screenshots: the bond page in Japanese and English, and the trial report, full page at 1200 px wide',
  { skip: SHOTS ? false : 'set MIDORI_SCREENSHOTS to a directory to write them' },
  async (t) => {
    const dir = resolve(SHOTS);
    mkdirSync(dir, { recursive: true });
    for (const lang of ['ja', 'en']) {
      const page = await openPage(await newContext(t, lang));
      await visit(page, `/bonds/${BOND}`);
      assert.equal(await page.locator('html').getAttribute('lang'), lang);
      await page.screenshot({ path: join(dir, `bond-${lang}.png`), fullPage: true });
    }
    const page = await openPage(await newContext(t, 'en'));
    await signIn(page, REGULATOR_KEY);
    await visit(page, `/regulator/trials/${TRIAL}`);
    await page.screenshot({ path: join(dir, 'trial-report.png'), fullPage: true });
    await follow(page, 'form.sign-out button[type=submit]', { status: 401 });
  },
);

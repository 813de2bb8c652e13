#!/usr/bin/env node
// Headless-browser check of the engine's operations console (URL/console).
//
//   node tests/browser/console.mjs --url http://127.0.0.1:PORT --token TOKEN \
//     --product PRODUCT_ID --from-minor N --kind KIND --screenshot OUT_DIR [--strict]
//
// Drives Debian's Chromium (/usr/bin/chromium, or $CHROMIUM) through
// playwright-core: opens a product in the Prices tab and checks its from-price
// (the figure, the chart mark and the calendar row), opens that row's price
// history, shows the Live tab, then rolls back the active plugin of KIND in the
// Rules tab and waits for another version to become active.
//
// Success: one JSON line on stdout, exit 0:
//   {"ok":true,"from_minor":N,"active_before":"..","active_after":"..","screenshots":[..]}
// Failure: the failed step and its reason on stderr, OUT_DIR/console-failure.png, exit 1.
// Progress and diagnostics go to stderr only.
//
// Uncaught page errors fail the run. Console errors, failed requests and
// unexpected HTTP responses >= 400 are reported on stderr; with --strict they
// fail the run too.
//
// Env: CHROMIUM (browser binary), CONSOLE_STEP_TIMEOUT_MS (per step, default 10000).
// Install what this needs with tests/browser/setup.

import { mkdir, realpath, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const STEP_MS = positiveInt(process.env.CONSOLE_STEP_TIMEOUT_MS ?? '10000', 'CONSOLE_STEP_TIMEOUT_MS');
// Single waits give up a little before their step does, so that a timeout
// names what it was waiting for; the step's own timer caps the whole step.
const WAIT_MS = Math.max(STEP_MS - 500, Math.ceil(STEP_MS * 0.9));
// A cold start of Chromium (its files not in the page cache, the machine busy with a
// build) can take far longer than a page step: it gets a budget of its own.
const LAUNCH_MS = Math.max(STEP_MS, 60000);
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const TABS = ['rules', 'prices', 'live', 'dead-letters'];

function log(msg) {
  // eslint-disable-next-line no-control-regex
  process.stderr.write(`[console.mjs] ${String(msg).replace(/\x1b\[[0-9;]*m/g, '')}\n`);
}

function positiveInt(raw, what) {
  if (!/^\d+$/.test(String(raw)) || Number(raw) <= 0) {
    usage(`${what} must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

function usage(problem) {
  process.stderr.write(
    `console.mjs: ${problem}\n` +
      'usage: node tests/browser/console.mjs --url http://127.0.0.1:PORT --token TOKEN ' +
      '--product PRODUCT_ID --from-minor N --kind KIND --screenshot OUT_DIR [--shadow-file WASM] [--strict]\n',
  );
  process.exit(2);
}

function parseCli() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        url: { type: 'string' },
        token: { type: 'string' },
        product: { type: 'string' },
        'from-minor': { type: 'string' },
        kind: { type: 'string' },
        screenshot: { type: 'string' },
        'shadow-file': { type: 'string' },
        strict: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    usage(e.message);
  }
  if (values.help) usage('help');
  for (const k of ['url', 'token', 'product', 'from-minor', 'kind', 'screenshot']) {
    if (values[k] === undefined || values[k] === '') usage(`--${k} is required`);
  }
  let base;
  try {
    base = new URL(values.url);
  } catch {
    usage(`--url is not a URL: ${values.url}`);
  }
  if (!/^-?\d+$/.test(values['from-minor'])) usage(`--from-minor must be an integer, got ${values['from-minor']}`);
  return {
    base,
    consoleUrl: values.url.replace(/\/+$/, '') + '/console',
    token: values.token,
    product: values.product,
    fromMinor: Number(values['from-minor']),
    kind: values.kind,
    outDir: path.resolve(values.screenshot),
    shadowFile: values['shadow-file'] ? path.resolve(values['shadow-file']) : null,
    strict: values.strict,
  };
}

// A CSS attribute-selector value, quoted.
function q(value) {
  return '"' + String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\a ') + '"';
}

function parseIntAttr(raw, what) {
  if (raw === null || !/^\s*-?\d+\s*$/.test(raw)) throw new Error(`${what} is not an integer: ${JSON.stringify(raw)}`);
  return Number(raw.trim());
}

class StepError extends Error {}

async function main() {
  const opts = parseCli();
  await mkdir(opts.outDir, { recursive: true });
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  try {
    await stat(executablePath);
  } catch {
    log(`browser not found at ${executablePath}: run tests/browser/setup (or set CHROMIUM)`);
    process.exit(1);
  }

  const pageErrors = [];
  const consoleErrors = [];
  const failedRequests = [];
  const badResponses = [];
  const dialogs = [];
  const screenshots = [];
  let expectConfirm = false;
  // The answer to give the next prompt() (the deploy form asks which kind to shadow).
  let expectPrompt = null;
  let browser;
  let page;
  let current = 'start';

  async function step(name, fn, ms = STEP_MS) {
    current = name;
    const started = Date.now();
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new StepError(`timed out after ${ms} ms`)), ms);
    });
    try {
      const result = await Promise.race([fn(), timeout]);
      log(`ok   ${name} (${Date.now() - started} ms)`);
      return result;
    } finally {
      clearTimeout(timer);
    }
  }

  function check(cond, msg) {
    if (!cond) throw new StepError(msg);
  }

  async function shot(file) {
    const p = path.join(opts.outDir, file);
    await page.screenshot({ path: p, fullPage: true, timeout: STEP_MS });
    screenshots.push(p);
  }

  function expectedResponse(url) {
    // The browser asks for a favicon on its own; the console need not have one.
    return new URL(url).pathname === '/favicon.ico';
  }

  function reportDiagnostics() {
    const groups = [
      ['page error', pageErrors],
      ['console error', consoleErrors],
      ['failed request', failedRequests],
      ['HTTP error response', badResponses],
    ];
    for (const [label, list] of groups) for (const item of list) log(`${label}: ${item}`);
  }

  // Watches #message from now on, so a status left by an earlier action is not taken
  // for the next one's.
  async function watchMessage() {
    await page.evaluate(() => {
      const m = document.querySelector('#message');
      window.__consoleCheckMessageChanges = 0;
      window.__consoleCheckObserver?.disconnect();
      if (m) {
        window.__consoleCheckObserver = new MutationObserver(() => {
          window.__consoleCheckMessageChanges += 1;
        });
        window.__consoleCheckObserver.observe(m, { attributes: true, childList: true, characterData: true, subtree: true });
      }
    });
  }

  // Waits for the action's status line and fails unless it is `want` (ok by default);
  // a confirm() asked for must have been answered. Returns the line's text.
  async function messageSettled(action, want = 'ok') {
    await page.waitForFunction(
      () => {
        const s = document.querySelector('#message')?.getAttribute('data-state');
        return window.__consoleCheckMessageChanges > 0 && (s === 'ok' || s === 'error');
      },
      null,
      { timeout: WAIT_MS },
    );
    const state = await page.locator('#message').getAttribute('data-state');
    const text = ((await page.locator('#message').textContent()) ?? '').trim();
    check(state === want, `${action}: expected ${want}, #message says: ${text || '(empty)'}`);
    check(!expectConfirm, `${action} did not ask confirm()`);
    log(`#message: ${text}`);
    return text;
  }

  async function showTab(tab) {
    await page.locator(`button[data-tab=${q(tab)}]`).click();
    await page.waitForFunction(
      ([shown, all]) =>
        all.every((t) => {
          const s = document.querySelector(`section#tab-${t}`);
          if (!s) return t !== shown;
          return t === shown ? !s.hasAttribute('hidden') : s.hasAttribute('hidden');
        }),
      [tab, TABS],
      { timeout: WAIT_MS },
    );
  }

  try {
    browser = await step('launch chromium', async () => {
      const launchStarted = Date.now();
      const b = await chromium.launch({
        executablePath,
        args: CHROMIUM_ARGS,
        headless: true,
        timeout: LAUNCH_MS,
      });
      // launch() must have given Chromium a fresh, throwaway profile of its own
      // (playwright-core makes one under the temp dir and deletes it on close).
      const probe = await b.newContext();
      const vp = await probe.newPage();
      await vp.goto('chrome://version', { timeout: LAUNCH_MS });
      const profile = ((await vp.locator('#profile_path').textContent({ timeout: LAUNCH_MS })) ?? '').trim();
      await probe.close();
      const dir = path.dirname(profile);
      const tmp = await realpath(os.tmpdir());
      check(
        [tmp, path.resolve(os.tmpdir())].includes(path.dirname(dir)) && path.basename(dir).startsWith('playwright_chromiumdev_profile-'),
        `Chromium is not using a temporary profile of its own: ${JSON.stringify(profile)}`,
      );
      const born = await stat(dir);
      check(
        Math.min(born.birthtimeMs || Infinity, born.ctimeMs) >= launchStarted - 2000,
        `Chromium's profile ${dir} was not made by this launch`,
      );
      log(`chromium ${b.version()} (${executablePath}), profile ${dir}`);
      return b;
    }, LAUNCH_MS);

    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    context.setDefaultTimeout(WAIT_MS);
    context.setDefaultNavigationTimeout(WAIT_MS);
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(String(err && err.stack ? err.stack : err)));
    page.on('console', (msg) => {
      if (msg.type() === 'error') {
        const loc = msg.location();
        // Chromium also logs each HTTP error response; skip the ones the flow expects.
        if (loc && loc.url && msg.text().startsWith('Failed to load resource') && expectedResponse(loc.url)) return;
        consoleErrors.push(`${msg.text()}${loc && loc.url ? ` (${loc.url}:${loc.lineNumber})` : ''}`);
      }
    });
    page.on('requestfailed', (req) =>
      failedRequests.push(`${req.method()} ${req.url()}: ${req.failure()?.errorText ?? 'failed'}`),
    );
    page.on('response', (res) => {
      if (res.status() >= 400 && !expectedResponse(res.url())) {
        badResponses.push(`${res.request().method()} ${res.url()} -> ${res.status()}`);
      }
    });
    page.on('dialog', async (dialog) => {
      const what = `${dialog.type()}: ${dialog.message()}`;
      dialogs.push(what);
      if (dialog.type() === 'prompt' && expectPrompt !== null) {
        const answer = expectPrompt;
        expectPrompt = null;
        log(`answering ${what} with ${answer}`);
        await dialog.accept(answer).catch(() => {});
      } else if (dialog.type() === 'confirm' && expectConfirm) {
        expectConfirm = false;
        log(`accepting ${what}`);
        await dialog.accept().catch(() => {});
      } else {
        log(`dismissing unexpected ${what}`);
        await dialog.dismiss().catch(() => {});
      }
    });

    // 1. Open the console and enter the token.
    await step('open console', async () => {
      const res = await page.goto(opts.consoleUrl, { waitUntil: 'domcontentloaded' });
      check(res !== null, `no response for ${opts.consoleUrl}`);
      check(res.ok(), `GET ${opts.consoleUrl} answered HTTP ${res.status()}`);
      await page.locator('button[data-tab="rules"]').waitFor({ state: 'visible' });
    });
    await step('enter token', async () => {
      const field = page.locator('input#token');
      check((await field.getAttribute('type')) === 'password', 'input#token is not type=password');
      await field.fill(opts.token);
      await field.blur();
      await page.waitForFunction(
        (t) => Object.keys(sessionStorage).some((k) => sessionStorage.getItem(k) === t),
        opts.token,
        { timeout: WAIT_MS },
      );
    });

    // 2. Prices: open the product, check its from-price three ways, open its history.
    await step('prices: show tab', () => showTab('prices'));
    await step('prices: search product', async () => {
      const search = page.locator('input#product-search');
      await search.click();
      await search.fill('');
      await search.pressSequentially(opts.product, { delay: 20 });
      await page.locator(`ul#product-results li[data-product=${q(opts.product)}]`).first().waitFor({ state: 'visible' });
    });
    await step('prices: open product', async () => {
      await page.locator(`ul#product-results li[data-product=${q(opts.product)}]`).first().click();
      await page.locator('div#calendar-chart[data-from-minor] canvas').first().waitFor({ state: 'visible' });
      await page.locator('#from-price[data-minor]').waitFor({ state: 'attached' });
    });
    const fromPrice = await step('prices: check from-price', async () => {
      const fp = page.locator('#from-price');
      const shown = parseIntAttr(await fp.getAttribute('data-minor'), '#from-price[data-minor]');
      const city = await fp.getAttribute('data-city');
      const date = await fp.getAttribute('data-date');
      check(shown === opts.fromMinor, `#from-price data-minor is ${shown}, expected ${opts.fromMinor}`);
      const chart = page.locator('div#calendar-chart');
      const marked = parseIntAttr(await chart.getAttribute('data-from-minor'), '#calendar-chart[data-from-minor]');
      check(marked === opts.fromMinor, `#calendar-chart data-from-minor is ${marked}, expected ${opts.fromMinor}`);
      const lines = parseIntAttr(await chart.getAttribute('data-lines'), '#calendar-chart[data-lines]');
      check(lines >= 1, `#calendar-chart data-lines is ${lines}, expected >= 1`);
      const rows = page.locator('table#calendar-table tbody tr.from');
      await rows.first().waitFor({ state: 'visible' });
      const departure = await rows.first().getAttribute('data-departure');
      check(
        departure !== null && departure.startsWith(`${opts.product}:`),
        `from-price row has data-departure=${JSON.stringify(departure)}, expected "${opts.product}:CITY:DATE"`,
      );
      if (city && date) {
        check(
          departure === `${opts.product}:${city}:${date}`,
          `from-price row is ${departure} but #from-price says ${city} on ${date}`,
        );
      }
      return { shown, departure, lines };
    });
    await step('prices: open price history', async () => {
      await page.locator('table#calendar-table tbody tr.from').first().click();
      await page.locator('table#history-table tbody tr').first().waitFor({ state: 'visible' });
      const n = await page.locator('table#history-table tbody tr').count();
      check(n >= 1, 'no rows in #history-table');
      log(`from-price ${fromPrice.shown} at ${fromPrice.departure}, ${fromPrice.lines} line(s), ${n} price version(s)`);
    });
    await step('prices: screenshot', () => shot('console-prices.png'));

    // 3. Live.
    await step('live: show tab', () => showTab('live'));
    await step('live: events chart', () => page.locator('#live-events canvas').first().waitFor({ state: 'visible' }));
    await step('live: screenshot', () => shot('console-live.png'));

    // 4. Rules: roll back KIND and see another version become active.
    const activeCell = `table#rules-table tbody tr[data-kind=${q(opts.kind)}] .active-version`;
    await step('rules: show tab', () => showTab('rules'));

    // 4. Changes need the right token: none, then a wrong one, are refused with the
    // reason, and nothing changes.
    await step('rules: refused without the token', async () => {
      const before = (await page.locator(activeCell).textContent()).trim();
      await page.locator('input#token').fill('');
      await watchMessage();
      await page.locator(`button.rollback[data-kind=${q(opts.kind)}]`).click();
      const none = await messageSettled('rollback with no token', 'error');
      check(/token/i.test(none), `no token: the refusal does not mention the token: ${none}`);
      await page.locator('input#token').fill(`wrong-${opts.token}`);
      await watchMessage();
      expectConfirm = true;
      await page.locator(`button.rollback[data-kind=${q(opts.kind)}]`).click();
      const wrong = await messageSettled('rollback with a wrong token', 'error');
      check(/wrong bearer token/.test(wrong), `wrong token: unexpected refusal: ${wrong}`);
      await showTab('rules');
      const after = (await page.locator(activeCell).textContent()).trim();
      check(after === before, `a refused rollback changed the active version: ${before} -> ${after}`);
      await page.locator('input#token').fill(opts.token);
    });

    // 4a. With --shadow-file: deploy it through the form as a shadow of KIND, reprice
    // KIND so the shadow compares, see its diff report, and promote it.
    let shadow = null;
    if (opts.shadowFile) {
      const report = `div.report[data-shadow=${q(opts.kind)}]`;
      await step('rules: deploy as shadow', async () => {
        await page.locator('#deploy-file').setInputFiles(opts.shadowFile);
        await page.locator('#deploy-mode').selectOption('shadow');
        await watchMessage();
        expectPrompt = opts.kind;
        await page.locator('#deploy-form button[type="submit"]').click();
        await messageSettled('deploy as shadow');
        check(expectPrompt === null, 'the deploy form did not ask which kind to shadow');
      });
      await step('rules: reprice to compare', async () => {
        await watchMessage();
        expectConfirm = true;
        await page.locator(`button.reprice[data-kind=${q(opts.kind)}]`).click();
        await messageSettled('reprice');
      });
      shadow = await step('rules: shadow diff report', async () => {
        // The page refreshes the rules every 5 s; the reprice runs in the background.
        await page.waitForFunction((sel) => Number(document.querySelector(sel)?.dataset.changed ?? 0) > 0, report, {
          timeout: WAIT_MS,
        });
        const el = page.locator(report);
        const got = {
          candidate: await el.getAttribute('data-candidate'),
          compared: parseIntAttr(await el.getAttribute('data-compared'), 'data-compared'),
          changed: parseIntAttr(await el.getAttribute('data-changed'), 'data-changed'),
          rows: await el.locator('tbody tr').count(),
        };
        check(got.rows > 0, 'the shadow report lists no differing departure');
        log(`shadow ${got.candidate}: ${got.changed} of ${got.compared} differ, ${got.rows} row(s) listed`);
        return got;
      }, STEP_MS * 2);
      await step('rules: shadow screenshot', () => shot('console-shadow.png'));
      await step('rules: promote shadow', async () => {
        await watchMessage();
        expectConfirm = true;
        await page.locator(`${report} button.promote`).click();
        await messageSettled('promote');
        await page.waitForFunction(
          ([sel, want]) => (document.querySelector(sel)?.textContent ?? '').trim() === want,
          [activeCell, shadow.candidate],
          { timeout: WAIT_MS },
        );
      });
    }
    const activeBefore = await step('rules: read active version', async () => {
      await page.waitForFunction((sel) => (document.querySelector(sel)?.textContent ?? '').trim() !== '', activeCell, {
        timeout: STEP_MS,
      });
      return (await page.locator(activeCell).textContent()).trim();
    });
    await step('rules: roll back', async () => {
      await watchMessage();
      expectConfirm = true;
      await page.locator(`button.rollback[data-kind=${q(opts.kind)}]`).click();
      await messageSettled('rollback');
    });
    const activeAfter = await step('rules: wait for new active version', async () => {
      await page.waitForFunction(
        ([sel, before]) => {
          const t = (document.querySelector(sel)?.textContent ?? '').trim();
          return t !== '' && t !== before;
        },
        [activeCell, activeBefore],
        { timeout: WAIT_MS },
      );
      return (await page.locator(activeCell).textContent()).trim();
    });
    await step('rules: screenshot', () => shot('console-rules.png'));

    current = 'page errors';
    reportDiagnostics();
    check(pageErrors.length === 0, `${pageErrors.length} uncaught page error(s), listed above`);
    if (opts.strict) {
      const n = consoleErrors.length + failedRequests.length + badResponses.length;
      check(n === 0, `--strict: ${n} console error(s), failed request(s) or HTTP error response(s), listed above`);
    }

    process.stdout.write(
      JSON.stringify({
        ok: true,
        from_minor: fromPrice.shown,
        active_before: activeBefore,
        active_after: activeAfter,
        shadow,
        screenshots,
      }) + '\n',
    );
    await browser.close();
    return 0;
  } catch (err) {
    log(`FAILED at step "${current}": ${err && err.message ? err.message.split('\n')[0] : err}`);
    if (!(err instanceof StepError) && err && err.message && err.message.includes('\n')) {
      log(err.message.split('\n').slice(1, 8).join('\n'));
    }
    if (current !== 'page errors') reportDiagnostics();
    if (page) {
      const p = path.join(opts.outDir, 'console-failure.png');
      try {
        await page.screenshot({ path: p, fullPage: true, timeout: STEP_MS });
        log(`failure screenshot: ${p}`);
      } catch (e) {
        log(`could not save failure screenshot ${p}: ${e.message.split('\n')[0]}`);
      }
    }
    if (browser) await browser.close().catch(() => {});
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    log(`FAILED: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  },
);

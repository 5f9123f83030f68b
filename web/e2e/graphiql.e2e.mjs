// Real-browser test of the GraphiQL page, with the network closed: Debian's Chromium driven by
// playwright-core. Run by the Go test TestGraphiQLInARealBrowser (web/browser_test.go), which
// starts the real server and passes:
//
//   CUSTODIA_URL     the server's base URL (loopback)
//   SCREENSHOT_DIR   where to write screenshots (printed)
//   EXPECT           JSON: [{role, queryFields: [...]}] — each role's Query fields per the policy
//   CHROMIUM         the browser binary (default /usr/bin/chromium)
//   PRODUCTION_URL   optional: a production-mode server with GraphiQL enabled
//
// It checks that the page renders from the binary alone (any request leaving loopback is
// blocked and fails the test), that a query runs for two roles signed in with the development
// picker, and that the documentation shows each role exactly its own Query fields. In
// production mode there is no picker and the header editor is never written to localStorage.
import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const base = process.env.CUSTODIA_URL;
const shots = process.env.SCREENSHOT_DIR || mkdtempSync(join(tmpdir(), 'custodia-screenshots-'));
const expect = JSON.parse(process.env.EXPECT || '[]');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const productionURL = process.env.PRODUCTION_URL || '';
if (!base || expect.length < 2) {
  console.error('CUSTODIA_URL and EXPECT (two roles or more) are required');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
console.log(`screenshots: ${shots}`);

const loopback = new Set(['127.0.0.1', 'localhost', '[::1]']);
const userDataDir = mkdtempSync(join(tmpdir(), 'custodia-chromium-'));
const blocked = [];
const pageErrors = [];

function check(ok, message) {
  if (!ok) throw new Error(message);
  console.log(`ok - ${message}`);
}

const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  headless: true,
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
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
  ],
});
try {
  // The closed network: every request that does not go to loopback is refused and recorded.
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if ((url.protocol === 'http:' || url.protocol === 'https:') && loopback.has(url.hostname)) return route.continue();
    if (url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
    blocked.push(route.request().url());
    return route.abort('blockedbyclient');
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
  });

  await page.goto(base + '/', { waitUntil: 'load' });
  await page.locator('.graphiql-container').waitFor({ timeout: 30000 });
  check(true, 'the page renders GraphiQL');

  // The guard itself works: loading from a CDN is refused (and recorded) …
  const other = await context.newPage();
  const loaded = await other.goto('https://unpkg.com/react/package.json').then(() => true, () => false);
  await other.close();
  check(!loaded && blocked.some((u) => u.startsWith('https://unpkg.com/')), 'a request leaving loopback is blocked');
  // … and the page's Content-Security-Policy would refuse it anyway.
  const viaPage = await page.evaluate(() => fetch('https://unpkg.com/react/package.json').then(() => 'loaded', () => 'refused'));
  check(viaPage === 'refused', "the page's Content-Security-Policy refuses other origins");
  const probes = blocked.length;

  const picker = page.getByTestId('sign-in');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="sign-in"] option').length > 1, null, { timeout: 30000 });

  const docsButton = page.getByRole('button', { name: 'Show Documentation Explorer' });
  const editorValue = (selector) =>
    page.evaluate((sel) => document.querySelector(sel)?.CodeMirror?.getValue() ?? '', selector);


  const sorted = (fields) => [...fields].sort().join(',');
  // A click that gives up quickly: the doc explorer re-renders (and drops the element) when the
  // schema is refetched; the polling loops below then simply try again.
  const tryClick = (locator) => locator.click({ timeout: 2000 }).then(() => true, () => false);
  // The Query fields the doc explorer lists, polled until they are the wanted ones (the schema
  // is refetched asynchronously) or 30 s have passed (CI machines can be slow).
  const docsQueryFields = async (queryFields) => {
    if (!(await page.locator('.graphiql-doc-explorer').isVisible())) await docsButton.click();
    const want = sorted(queryFields);
    let got = '';
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline) {
      const back = page.locator('.graphiql-doc-explorer-back');
      for (let i = 0; i < 5 && (await back.count()); i++) await tryClick(back.first());
      const queryType = page.locator('div:has(> .graphiql-doc-explorer-root-type) > a.graphiql-doc-explorer-type-name', { hasText: /^Query$/ });
      if ((await queryType.count()) && (await tryClick(queryType.first()))) {
        got = sorted(await page.locator('.graphiql-doc-explorer-field-name').allTextContents());
        if (got === want) break;
      }
      await page.waitForTimeout(250);
    }
    return got;
  };

  const seen = {};
  for (const { role, queryFields } of expect) {
    await picker.selectOption(role);
    // The header editor holds the role's token.
    await page.waitForFunction(
      () => [...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')].some((e) => /Bearer ey/.test(e.CodeMirror.getValue())),
      null,
      { timeout: 30000 },
    );
    // Run a query as the role.
    await page.evaluate(() => {
      document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue('query Me { me { subject role } }');
    });
    await page.locator('.graphiql-execute-button').click();
    await page.waitForFunction(
      (r) => (document.querySelector('.result-window .CodeMirror')?.CodeMirror?.getValue() ?? '').includes(`"role": "${r}"`),
      role,
      { timeout: 30000 },
    );
    const result = JSON.parse(await editorValue('.result-window .CodeMirror'));
    check(result.data?.me?.role === role && !result.errors, `a query runs as ${role}: ${JSON.stringify(result.data.me)}`);

    const got = await docsQueryFields(queryFields);
    check(got === sorted(queryFields), `the docs show ${role} its ${queryFields.length} Query fields${got === sorted(queryFields) ? '' : ` (got ${got})`}`);
    seen[role] = got;
    const file = join(shots, `graphiql-${role}.png`);
    await page.screenshot({ path: file });
    console.log(`screenshot: ${file}`);
  }
  const roles = Object.keys(seen);

  // Editing the Authorization header by hand (no picker) refetches the schema too.
  const first = expect[0];
  const official = await page.evaluate(
    (r) => fetch('dev/officials').then((x) => x.json()).then((b) => b.officials.find((o) => o.role === r)),
    first.role,
  );
  await page.evaluate((token) => {
    const editor = [...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')].find((e) => /Authorization/.test(e.CodeMirror.getValue()));
    editor.CodeMirror.setValue(JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2));
  }, official.token);
  const afterEdit = await docsQueryFields(first.queryFields);
  check(afterEdit === sorted(first.queryFields), `editing the header to a ${first.role} token shows ${first.role}'s docs again`);
  check((await picker.inputValue()) === '', 'the picker no longer names an official once the header is edited by hand');
  await page.screenshot({ path: join(shots, `graphiql-edited-${first.role}.png`) });
  // Dialogs work under the page's Content-Security-Policy (they lock scrolling with injected styles).
  await page.getByRole('button', { name: 'Open short keys dialog' }).click();
  await page.getByRole('dialog').waitFor({ timeout: 15000 });
  await page.screenshot({ path: join(shots, 'graphiql-dialog.png') });
  await page.keyboard.press('Escape');
  await page.getByRole('dialog').waitFor({ state: 'detached', timeout: 15000 });
  check(true, 'the short keys dialog opens and closes');

  const devStorage = await page.evaluate(() => JSON.stringify({ ...localStorage }));
  check(devStorage.includes('Bearer ey'), 'development: the header editor is kept in localStorage');

  if (productionURL) {
    const prod = await context.newPage();
    await prod.goto(productionURL + '/', { waitUntil: 'load' });
    await prod.locator('.graphiql-container').waitFor({ timeout: 30000 });
    check((await prod.getByTestId('sign-in').count()) === 0, 'production: no sign-in picker');
    const marker = 'production-token-must-not-persist';
    const headerEditors = () =>
      prod.evaluate(() => [...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')].map((e) => e.CodeMirror.getValue()).join('\n'));
    await prod.evaluate((token) => {
      const editor = [...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')].find((e) => /Authorization/.test(e.CodeMirror.getValue()));
      editor.CodeMirror.setValue(JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2));
    }, marker);
    check((await headerEditors()).includes(marker), 'production: the header editor takes a token');
    await prod.waitForTimeout(1000); // GraphiQL stores its state debounced
    const stored = await prod.evaluate(() => JSON.stringify({ ...localStorage }));
    check(stored.length > 2 && !stored.includes(marker), 'production: the header is not in localStorage (the rest of the state is)');
    await prod.reload({ waitUntil: 'load' });
    await prod.locator('.graphiql-container').waitFor({ timeout: 30000 });
    check(!(await headerEditors()).includes(marker), 'production: the header is gone after a reload');
    await prod.screenshot({ path: join(shots, 'graphiql-production.png') });
    await prod.close();
  }

  check(new Set(Object.values(seen)).size === roles.length, `the docs differ by role (${roles.join(', ')})`);
  check(blocked.length === probes, `the page made no request outside loopback${blocked.length > probes ? `: ${blocked.slice(probes).join(', ')}` : ''}`);
  const unexpected = pageErrors.filter((e) => !e.includes('unpkg.com'));
  check(unexpected.length === 0, `no script errors${unexpected.length ? `: ${unexpected.join(' | ')}` : ''}`);
} catch (e) {
  const page = context.pages()[0];
  if (page) {
    const file = join(shots, 'failure.png');
    await page.screenshot({ path: file }).catch(() => {});
    console.error(`screenshot of the failure: ${file}`);
  }
  if (pageErrors.length) console.error(`page errors: ${pageErrors.join(' | ')}`);
  throw e;
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}

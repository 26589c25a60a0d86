/**
 * One task in the page: ui messages rendered as the assistant shows them, a message the device
 * pushes painted within a second without a reload (the scroll kept at the bottom), a partial
 * message rewritten in place, and message content that tries to run script running nothing,
 * checked with the CSP on and, to prove the sanitiser on its own, with the CSP bypassed.
 */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { UiMessage } from '../support/headless-device';
import { axeViolations, DESKTOP, PHONE, screenshot, signInOn, useWebFixture } from './web-fixture';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);

/** A realistic task: the task text, reasoning, Markdown, a tool, a command and its output, cost lines, an image. */
function conversation(): UiMessage[] {
  const png = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
  return [
    { ts: T0, type: 'say', say: 'text', text: 'Add a dark mode toggle to the settings page', images: [png] },
    { ts: T0 + 1, type: 'say', say: 'api_req_started', text: JSON.stringify({ apiProtocol: 'anthropic', tokensIn: 5200, tokensOut: 310, cacheReads: 4000, cost: 0.0213 }) },
    { ts: T0 + 2, type: 'say', say: 'reasoning', text: 'The settings page lives in src/settings.tsx; a context provider holds the theme.' },
    { ts: T0 + 3, type: 'say', say: 'text', text: "I'll add a **theme context** and a toggle:\n\n```ts\nexport const ThemeContext = createContext('light');\n```\n\n- update `App.tsx`\n- add tests" },
    { ts: T0 + 4, type: 'ask', ask: 'tool', text: JSON.stringify({ tool: 'editedExistingFile', path: 'src/settings.tsx', diff: '@@ -1,3 +1,4 @@\n+import { useTheme } from "./theme";\n export function Settings() {' }) },
    { ts: T0 + 5, type: 'ask', ask: 'command', text: 'npm test -- settings' },
    { ts: T0 + 6, type: 'say', say: 'command_output', text: 'PASS src/settings.test.tsx\n  ✓ toggles the theme (12 ms)\n\nTests: 1 passed' },
    { ts: T0 + 7, type: 'say', say: 'api_req_started', text: JSON.stringify({ tokensIn: 6100, tokensOut: 120, cost: 0.0187 }) },
    { ts: T0 + 8, type: 'ask', ask: 'followup', text: JSON.stringify({ question: 'Should the toggle also follow the system setting?', suggest: [{ answer: 'Yes, default to the system setting' }, { answer: 'No, keep it manual' }] }) },
  ];
}

async function openTask(page: Page, taskId: string): Promise<void> {
  await page.locator(`.task-row[data-task-id="${taskId}"] a`).click();
  await page.locator('.messages .message').first().waitFor();
}

describe('web page: task view', function () {
  this.timeout(60_000);
  const web = useWebFixture();

  it('renders the ui messages as the assistant does, at 360 and 1280 px, with no serious axe violations', async () => {
    const email = await web.user('view');
    const device = await web.device(email, 'laptop');
    await device.pushTask({ taskId: 'dark', meta: { id: 'dark', ts: T0 + 8, task: 'Add a dark mode toggle to the settings page', tokensIn: 11300, tokensOut: 430, totalCost: 0.04 }, messages: conversation() });
    const page = await web.signedIn(email);
    const origins = new Set<string>();
    page.on('request', (request) => origins.add(new URL(request.url()).origin));
    await openTask(page, 'dark');
    await page.locator('.message[data-ts="' + (T0 + 8) + '"]').waitFor();

    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Add a dark mode toggle to the settings page');
    assert.equal(await page.locator('.bubble.user .plain').first().textContent(), 'Add a dark mode toggle to the settings page');
    assert.equal(await page.locator('.images img').count(), 1);
    const reasoning = page.locator('details.reasoning');
    assert.equal(await reasoning.getAttribute('open'), null, 'reasoning is folded');
    assert.equal(await page.locator('.markdown strong', { hasText: 'theme context' }).count(), 1);
    assert.equal(await page.locator('.markdown pre code').count(), 1);
    assert.match((await page.locator('.block.tool summary').textContent()) ?? '', /editedExistingFile: src\/settings\.tsx/);
    assert.equal(await page.locator('.block.command pre').textContent(), 'npm test -- settings');
    assert.match((await page.locator('.block.output pre').textContent()) ?? '', /1 passed/);
    assert.deepEqual(await page.locator('.request strong').allTextContents(), ['$0.0213', '$0.0187']);
    assert.equal(await page.locator('.suggestions button').count(), 2);
    assert.match((await page.locator('.waiting').textContent()) ?? '', /waiting for you \(followup\)/);
    assert.deepEqual(await axeViolations(page), [], 'task view');
    await screenshot(page, 'task-view');
    await page.setViewportSize(DESKTOP);
    await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
    await screenshot(page, 'task-view');
    await page.emulateMedia({ colorScheme: 'dark' });
    assert.deepEqual(await axeViolations(page), [], 'task view, dark colour scheme');
    await screenshot(page, 'task-view-dark');

    assert.deepEqual([...origins].filter((o) => o !== web.relay().url && o !== 'null'), [], 'no third-party origin contacted');

    // Tapping a suggestion puts it in the message box.
    await page.locator('.suggestions button', { hasText: 'No, keep it manual' }).click();
    assert.equal(await page.getByLabel('Message to the task').inputValue(), 'No, keep it manual');
  });

  it('paints a message the device pushes within one second, without a reload, following at the bottom; a partial message is rewritten in place', async () => {
    const email = await web.user('livemsg');
    const device = await web.device(email, 'laptop');
    const long = Array.from({ length: 40 }, (_, i) => ({ ts: T0 + i, type: 'say' as const, say: 'text', text: `Step ${i}: ${'lorem ipsum '.repeat(8)}` }));
    await device.pushTask({ taskId: 'live', meta: { id: 'live', ts: T0, task: 'Long running task' }, messages: long });
    const page = await web.signedIn(email, { viewport: PHONE });
    await openTask(page, 'live');
    await page.locator(`.message[data-ts="${T0 + 39}"]`).waitFor();
    const navigations: string[] = [];
    page.on('framenavigated', (frame) => navigations.push(frame.url()));

    const ts = T0 + 1000;
    const started = Date.now();
    await device.pushMessage('live', { ts, type: 'say', say: 'text', text: 'Running the tests now', partial: true });
    await page.locator(`.message[data-ts="${ts}"]`).waitFor({ timeout: 1000 });
    const ms = Date.now() - started;
    assert.ok(ms < 1000, `painted after ${ms} ms`);
    await page.waitForFunction(() => {
      const g = globalThis as unknown as { innerHeight: number; scrollY: number; document: { documentElement: { scrollHeight: number } } };
      return g.innerHeight + g.scrollY >= g.document.documentElement.scrollHeight - 80;
    }, undefined, { timeout: 1000 });

    await device.pushMessage('live', { ts, type: 'say', say: 'text', text: 'Running the tests now: all 42 passed' });
    await page.locator(`.message[data-ts="${ts}"]`, { hasText: 'all 42 passed' }).waitFor({ timeout: 1000 });
    assert.equal(await page.locator(`.message[data-ts="${ts}"]`).count(), 1, 'rewritten in place, not added');
    assert.deepEqual(navigations, [], 'no reload');
  });

  it('keeps the reading position when a message arrives while the user reads older ones', async () => {
    const email = await web.user('keep');
    const device = await web.device(email, 'laptop');
    const long = Array.from({ length: 40 }, (_, i) => ({ ts: T0 + i, type: 'say' as const, say: 'text', text: `Step ${i}: ${'lorem ipsum '.repeat(8)}` }));
    await device.pushTask({ taskId: 'keep', meta: { id: 'keep', ts: T0, task: 'Reading' }, messages: long });
    const page = await web.signedIn(email);
    await openTask(page, 'keep');
    await page.locator(`.message[data-ts="${T0 + 39}"]`).waitFor();
    await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 300));
    const before = await page.evaluate(() => (globalThis as unknown as { scrollY: number }).scrollY);
    await device.pushMessage('keep', { ts: T0 + 2000, type: 'say', say: 'text', text: 'A new message' });
    await page.locator(`.message[data-ts="${T0 + 2000}"]`).waitFor({ state: 'attached', timeout: 1000 });
    assert.equal(await page.evaluate(() => (globalThis as unknown as { scrollY: number }).scrollY), before);
  });

  it('loads older messages on request and keeps the messages on screen in place', async () => {
    const email = await web.user('older');
    const device = await web.device(email, 'laptop');
    const many = Array.from({ length: 260 }, (_, i) => ({ ts: T0 + i, type: 'say' as const, say: 'text', text: `Message ${i}` }));
    await device.pushTask({ taskId: 'many', meta: { id: 'many', ts: T0, task: 'A long task' }, messages: many });
    const page = await web.signedIn(email);
    await openTask(page, 'many');
    await page.locator(`.message[data-ts="${T0 + 259}"]`).waitFor();
    assert.equal(await page.locator('.messages .message').count(), 200, 'the newest page first');
    const anchor = page.locator(`.message[data-ts="${T0 + 60}"]`);
    const button = page.getByRole('button', { name: 'Show older messages' });
    await button.scrollIntoViewIfNeeded();
    const before = (await anchor.boundingBox())!.y;
    await button.click();
    await page.locator(`.message[data-ts="${T0}"]`).waitFor({ state: 'attached' });
    assert.equal(await page.locator('.messages .message').count(), 260);
    assert.ok(Math.abs((await anchor.boundingBox())!.y - before) < 80, 'what was on screen stays there');
    assert.equal(await button.count(), 0, 'no older page left');
  });

  describe('message content that tries to run script', () => {
    const PAYLOADS: UiMessage[] = [
      { ts: T0 + 1, type: 'say', say: 'text', text: 'Look: <img src=x onerror="__xss(\'img\')"> and <script>__xss(\'script\')</script>' },
      { ts: T0 + 2, type: 'say', say: 'text', text: "[click me](javascript:__xss('md-link')) and [again](  JaVaScRiPt:__xss('md-link-case'))" },
      { ts: T0 + 3, type: 'say', say: 'text', text: '<a href="javascript:__xss(\'a\')">raw link</a> <a href="data:text/html,<script>__xss(\'data\')</script>">data link</a>' },
      { ts: T0 + 4, type: 'say', say: 'text', text: '![pic](x" onerror="__xss(\'md-img\')) <svg onload="__xss(\'svg\')"></svg> <iframe src="javascript:__xss(\'iframe\')"></iframe>' },
      { ts: T0 + 5, type: 'say', say: 'text', text: '<details open ontoggle="__xss(\'toggle\')"><summary>x</summary></details> <div style="background:url(javascript:__xss(\'css\'))">css</div> <form action="javascript:__xss(\'form\')"><button>go</button></form>' },
      { ts: T0 + 6, type: 'say', say: 'text', text: '[link](https://example.org/safe "title") <a href="https://example.org" onclick="__xss(\'onclick\')">click</a>' },
      { ts: T0 + 7, type: 'ask', ask: 'tool', text: JSON.stringify({ tool: 'readFile', path: '<img src=x onerror=__xss(\'tool\')>', content: '<script>__xss(\'tool-body\')</script>' }) },
      { ts: T0 + 8, type: 'say', say: 'command_output', text: '<img src=x onerror=__xss(\'output\')>' },
      { ts: T0 + 9, type: 'say', say: 'text', text: 'images', images: ['javascript:__xss(\'image\')', 'data:text/html;base64,PHNjcmlwdD5fX3hzcygnZGF0YScpPC9zY3JpcHQ+'] },
      { ts: T0 + 10, type: 'ask', ask: 'followup', text: JSON.stringify({ question: '<img src=x onerror=__xss(\'question\')>', suggest: ['<img src=x onerror=__xss(\'suggest\')>'] }) },
    ];

    for (const csp of [true, false]) {
      it(`runs nothing${csp ? '' : ' even with the CSP bypassed (the sanitiser alone)'}`, async () => {
        const email = await web.user('xss');
        const device = await web.device(email, 'laptop');
        await device.pushTask({ taskId: 'xss', meta: { id: 'xss', ts: T0, task: '<img src=x onerror="__xss(\'title\')">' }, messages: [{ ts: T0, type: 'say', say: 'text', text: '<script>__xss("task")</script>' }, ...PAYLOADS] });
        const context = await web.context({ bypassCSP: !csp });
        const ran: string[] = [];
        await context.exposeBinding('__xss', (_source, what: string) => {
          ran.push(what);
        });
        const page = await context.newPage();
        const dialogs: string[] = [];
        page.on('dialog', (d) => {
          dialogs.push(d.message());
          void d.dismiss();
        });
        await page.goto(`${web.relay().url}/`);
        await signInOn(page, email);
        await openTask(page, 'xss');
        await page.locator(`.message[data-ts="${T0 + 10}"]`).waitFor();
        await page.waitForLoadState('networkidle');

        const dom = await page.evaluate(() => {
          const d = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ getAttribute(n: string): string | null; attributes: ArrayLike<{ name: string }> }> } }).document;
          const messages = Array.from(d.querySelectorAll('.messages *'));
          return {
            handlers: messages.flatMap((el) => Array.from(el.attributes).map((a) => a.name)).filter((n) => n.startsWith('on')),
            scripts: d.querySelectorAll('.messages script, .messages iframe, .messages svg, .messages form, .messages [style]').length,
            badLinks: Array.from(d.querySelectorAll('.messages a')).map((a) => a.getAttribute('href')).filter((h) => h !== null && !/^https?:/i.test(h)),
            badImages: Array.from(d.querySelectorAll('.messages img')).map((i) => i.getAttribute('src') ?? '').filter((s) => s !== '' && !s.startsWith('data:image/')),
          };
        });
        assert.deepEqual(dom, { handlers: [], scripts: 0, badLinks: [], badImages: [] });
        // The crafted links lost their targets: clicking them does nothing.
        for (const name of ['click me', 'again', 'raw link', 'data link']) await page.getByText(name, { exact: true }).click();
        const safe = page.locator('.messages a', { hasText: 'link' }).filter({ has: page.locator('xpath=self::a[@href="https://example.org/safe"]') });
        assert.equal(await safe.getAttribute('rel'), 'noopener noreferrer nofollow');
        assert.equal(await safe.getAttribute('target'), '_blank');
        await page.waitForLoadState('networkidle');
        // The recorder works: the test's own call reaches it.
        await page.evaluate(() => (globalThis as unknown as { __xss(w: string): Promise<void> }).__xss('probe'));
        assert.deepEqual(ran, ['probe']);
        assert.deepEqual(dialogs, []);
        // Text that looks like markup is shown as text.
        assert.match((await page.locator('.block.output pre').textContent()) ?? '', /<img src=x onerror=/);
      });
    }
  });
});

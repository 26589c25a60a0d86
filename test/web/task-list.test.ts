/**
 * The web page in real Chromium against a real relay: sign-in on a phone-sized viewport, the
 * task list of tasks a headless device pushed (titles, count, search and filters), the web
 * device in the device list, accessibility (axe) and screenshots of sign-in and list.
 */
import assert from 'node:assert/strict';
import { axeViolations, DESKTOP, PHONE, screenshot, signInOn, useWebFixture } from './web-fixture';

describe('web page: sign-in and task list', function () {
  this.timeout(60_000);
  const web = useWebFixture();

  it('signs in on a 360 px screen and lists the tasks a device pushed, newest first, with count and cost', async () => {
    const email = await web.user('list');
    const device = await web.device(email, 'work laptop');
    const now = Date.now();
    await device.pushTask({ taskId: 'a1', meta: { id: 'a1', number: 1, ts: now - 3_600_000, task: 'Refactor the billing module', tokensIn: 1200, tokensOut: 300, totalCost: 0.42, workspace: '/home/ann/shop' } });
    await device.pushTask({ taskId: 'a2', meta: { id: 'a2', number: 2, ts: now - 60_000, task: 'Fix the flaky login test', tokensIn: 800, tokensOut: 90, totalCost: 0.05, workspace: '/home/ann/shop' } });
    await device.pushTask({ source: 'cline', taskId: 'c1', meta: { id: 'c1', ts: now - 7_200_000, task: 'Write the release notes', tokensIn: 10, tokensOut: 20, totalCost: 0 } });

    const context = await web.context({ viewport: PHONE });
    const page = await context.newPage();
    await page.goto(`${web.relay().url}/`);
    assert.deepEqual(await axeViolations(page), [], 'sign-in view');
    await screenshot(page, 'sign-in');
    await signInOn(page, email);

    assert.equal(await page.getByRole('status').filter({ hasText: /tasks$/ }).textContent(), '3 tasks');
    const titles = await page.locator('.task-row .title').allTextContents();
    assert.deepEqual(titles, ['Fix the flaky login test', 'Refactor the billing module', 'Write the release notes']);
    const first = page.locator('.task-row').first();
    assert.match((await first.textContent()) ?? '', /Roo Code.*work laptop.*shop/);
    assert.match((await first.textContent()) ?? '', /\$0\.05/);
    assert.equal(await page.evaluate('document.documentElement.scrollWidth'), PHONE.width, 'no horizontal scrolling at 360 px');
    assert.deepEqual(await axeViolations(page), [], 'list view');
    await screenshot(page, 'task-list');

    await page.getByLabel('Search tasks').fill('login');
    await page.getByRole('status').filter({ hasText: '1 task' }).waitFor();
    assert.deepEqual(await page.locator('.task-row .title').allTextContents(), ['Fix the flaky login test']);
    await page.getByLabel('Search tasks').fill('');
    await page.locator('.task-row').nth(2).waitFor();
    await page.getByLabel('Assistant').selectOption('cline');
    await page.locator('.task-row').nth(1).waitFor({ state: 'detached' });
    assert.deepEqual(await page.locator('.task-row .title').allTextContents(), ['Write the release notes']);

    await page.setViewportSize(DESKTOP);
    await page.getByLabel('Assistant').selectOption('');
    await page.getByRole('status').filter({ hasText: '3 tasks' }).waitFor();
    await screenshot(page, 'task-list');

    // The browser is a device of kind web in the user's device list.
    await page.getByRole('link', { name: 'Devices' }).click();
    const mine = page.locator('.device[data-state="this browser"]');
    await mine.waitFor();
    assert.match((await mine.textContent()) ?? '', /web/);
    assert.match((await page.locator('.device', { hasText: 'work laptop' }).textContent()) ?? '', /online/);
  });

  it('shows a task created on a device while the list is open, without a reload', async () => {
    const email = await web.user('listlive');
    const device = await web.device(email, 'desktop');
    await device.pushTask({ taskId: 'old', meta: { id: 'old', ts: Date.now() - 10_000, task: 'Older task' } });
    const page = await web.signedIn(email);
    assert.equal(await page.locator('.task-row').count(), 1);
    await device.pushTask({ taskId: 'new', meta: { id: 'new', ts: Date.now(), task: 'Brand new task' } });
    await page.locator('.task-row .title', { hasText: 'Brand new task' }).waitFor({ timeout: 5_000 });
    assert.deepEqual(await page.locator('.task-row .title').allTextContents(), ['Brand new task', 'Older task']);
  });

  it('keeps only the rows near the viewport in the DOM for 10,000 tasks and pages in more on scroll', async () => {
    const email = await web.user('many');
    const device = await web.device(email, 'big machine');
    const now = Date.now();
    await device.pushTasks(Array.from({ length: 10_000 }, (_, i) => ({ taskId: `t${i}`, meta: { id: `t${i}`, ts: now - i * 1000, task: `Task number ${i}` } })));
    const page = await web.signedIn(email);
    assert.equal(await page.getByRole('status').filter({ hasText: /tasks$/ }).textContent(), '10000 tasks');
    const rendered = await page.locator('.task-row').count();
    assert.ok(rendered > 5 && rendered < 60, `rendered ${rendered} rows`);
    // Scroll to the end of what is loaded until 410 rows are: each time the next page grows the list.
    for (let i = 0; i < 10; i++) {
      const height = await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollHeight: number } } }).document.documentElement.scrollHeight);
      if (height > 420 * 76) break;
      await page.mouse.wheel(0, height);
      await page.waitForFunction((h) => (globalThis as unknown as { document: { documentElement: { scrollHeight: number } } }).document.documentElement.scrollHeight > h, height, { timeout: 10_000 });
    }
    // Scroll to row 400 and keep it there: a wheel scroll of the loop above may still be
    // gliding and carry the page past it (seen: rows 482-508 rendered), so aim again each poll.
    await page.waitForFunction(
      () => {
        const g = globalThis as unknown as { scrollY: number; scrollTo(x: number, y: number): void; document: { querySelector(s: string): { getBoundingClientRect(): { top: number } } | null } };
        g.scrollTo(0, g.scrollY + g.document.querySelector('.rows')!.getBoundingClientRect().top + 400 * 76);
        return g.document.querySelector('.task-row[data-task-id="t400"]') !== null;
      },
      undefined,
      { polling: 100, timeout: 15_000 },
    );
    await page.locator('.task-row[data-task-id="t400"]').waitFor();
    assert.ok((await page.locator('.task-row').count()) < 60);
  });
});

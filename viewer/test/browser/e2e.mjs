/**
 * One lean real-browser test: headless Debian chromium driven by playwright-core, against
 * dist/ served with fixtures and a fake /models + /analyze responder (test/browser/server.mjs).
 *
 * Checks: the layers panel lists the models with counts; the confidence control changes the
 * counts and the boxes drawn; drawing a rectangle and pressing Analyse posts the region and
 * the result is drawn at once; a review is posted with the session's token; the embed example
 * works. Writes test-output/viewer.png.
 *
 * Needs: npm run build (dist/), and /usr/bin/chromium (apt-get install -y chromium).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const outDir = path.join(root, 'test-output');
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const started = Date.now();

function step(name) {
  console.log(`  ${((Date.now() - started) / 1000).toFixed(1)}s  ${name}`);
}

for (const file of ['dist/index.html', 'dist/annoserver-mirador.js']) {
  if (!fs.existsSync(path.join(root, file))) {
    console.error(`${file} is missing: run "npm run build" first.`);
    process.exit(1);
  }
}
if (!fs.existsSync(executablePath)) {
  console.error(`${executablePath} is missing: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH.`);
  process.exit(1);
}
fs.mkdirSync(outDir, { recursive: true });

const server = await startServer();
const { base, requests } = server;
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage'],
});
const errors = [];
let failed = false;

async function layerCounts(page) {
  return page.$$eval('[data-testid="annoserver-layers"] [data-model]', (rows) => Object.fromEntries(
    rows.map((row) => [row.dataset.model, `${row.dataset.shown}/${row.dataset.total}`]),
  ));
}

try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  // Nothing leaves 127.0.0.1.
  await context.route('**/*', (route) => {
    const { hostname } = new URL(route.request().url());
    return hostname === '127.0.0.1' ? route.continue() : route.abort();
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });

  step('open /viewer/?manifest=');
  const manifest = `${base}/fixtures/manifest.json`;
  await page.goto(`${base}/viewer/?manifest=${encodeURIComponent(manifest)}`);

  // 1. the layers panel lists both models with their counts
  const layers = page.locator('[data-testid="annoserver-layers"]');
  await layers.locator('[data-model="detector-demo"]').waitFor({ timeout: 20000 });
  await layers.locator('[data-model="classifier-demo"]').waitFor({ timeout: 10000 });
  assert.deepEqual(await layerCounts(page), { 'classifier-demo': '2/2', 'detector-demo': '4/4' });
  await page.locator('[data-annoserver-box]').first().waitFor({ timeout: 10000 });
  assert.equal(await page.locator('[data-annoserver-box]').count(), 4, 'four boxes drawn');
  assert.equal(await page.locator('[data-annoserver-badge]').count(), 2, 'two whole-canvas badges');
  assert.match(await layers.innerText(), /detector-demo v1\.2\.0[\s\S]*4 of 4 shown/);
  assert.equal(await page.getByRole('tab', { name: 'Machine annotations' }).getAttribute('aria-selected'), 'true');
  step('layers listed: detector-demo 4/4, classifier-demo 2/2; 4 boxes, 2 badges');

  // 2. the confidence control (keyboard) changes counts and boxes
  const slider = page.locator('[data-testid="annoserver-confidence"] [role="slider"]');
  await slider.focus();
  for (let i = 0; i < 10; i += 1) await slider.press('ArrowRight'); // 10 x 0.05 = 0.50
  assert.equal(await slider.getAttribute('aria-valuenow'), '0.5');
  assert.deepEqual(await layerCounts(page), { 'classifier-demo': '1/2', 'detector-demo': '3/4' });
  assert.equal(await page.locator('[data-annoserver-box]').count(), 3, 'three boxes at >= 0.50');
  assert.equal(await page.locator('[data-annoserver-badge]').count(), 1, 'one badge at >= 0.50');
  assert.match(await page.locator('[data-testid="annoserver-count"]').innerText(), /Showing 4 of 6/);
  step('confidence 0.50: detector-demo 3/4, classifier-demo 1/2; 3 boxes');

  // label filter narrows further
  await page.locator('[data-testid="annoserver-label-filter"]').fill('illustration');
  assert.deepEqual(await layerCounts(page), { 'classifier-demo': '0/2', 'detector-demo': '2/4' });
  await page.locator('[data-testid="annoserver-label-filter"]').fill('');

  // dragging the bare image pans (the overlay does not capture the mouse when not drawing)
  const boxBefore = await page.locator('[data-annoserver-box] rect').first().boundingBox();
  const osd = await page.locator('.openseadragon-canvas').first().boundingBox();
  await page.mouse.move(osd.x + osd.width * 0.5, osd.y + osd.height * 0.85);
  await page.mouse.down();
  await page.mouse.move(osd.x + osd.width * 0.4, osd.y + osd.height * 0.8, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction((before) => {
    const r = document.querySelector('[data-annoserver-box] rect').getBoundingClientRect();
    return Math.abs(r.x - before.x) > 20;
  }, boxBefore, { timeout: 5000 });
  step('dragging the image pans it; boxes follow');

  // 3. draw a rectangle over the image and analyse it
  await page.locator('[data-testid="annoserver-draw"]').click();
  const surface = page.locator('[data-testid="annoserver-draw-surface"]');
  await surface.waitFor();
  const box = await surface.boundingBox();
  const from = { x: box.x + box.width * 0.35, y: box.y + box.height * 0.3 };
  const to = { x: box.x + box.width * 0.6, y: box.y + box.height * 0.6 };
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 4 });
  await page.mouse.move(to.x, to.y, { steps: 4 });
  await page.mouse.up();
  await page.locator('[data-testid="annoserver-draw-surface"]').waitFor({ state: 'detached' });
  const regionText = await page.locator('[data-testid="annoserver-region"]').innerText();
  assert.match(regionText, /^Region \d+,\d+,\d+,\d+ \(canvas\)/);
  const canvasRegion = regionText.match(/(\d+),(\d+),(\d+),(\d+)/).slice(1).map(Number);

  await page.getByRole('checkbox', { name: /detector-demo \(detector/ }).waitFor();
  assert.equal(await page.getByRole('checkbox', { name: /detector-demo \(detector/ }).isChecked(), true);
  assert.equal(await page.getByRole('checkbox', { name: /embedding-demo/ }).count(), 0, 'embeddings are not offered');
  await page.locator('[data-testid="annoserver-analyze"]').click();
  await page.locator('[data-testid="annoserver-analyze-status"]', { hasText: '1 annotation from detector-demo' }).waitFor({ timeout: 10000 });
  const posted = requests.filter((r) => r.path === '/analyze');
  assert.equal(posted.length, 1, 'one POST /analyze');
  const sent = posted[0].body;
  assert.equal(sent.image, `${base}/iiif/page1`);
  assert.deepEqual(sent.models, ['detector-demo']);
  assert.deepEqual(sent.canvas, { id: `${base}/fixtures/canvas/1`, width: 2000, height: 1500 });
  assert.equal(sent.manifest, manifest);
  assert.equal(sent.persist, false);
  const imageRegion = sent.region.split(',').map(Number);
  // canvas 2000x1500, image 1000x750: the image region is half the canvas region (± rounding)
  canvasRegion.forEach((v, i) => assert.ok(Math.abs(imageRegion[i] - v / 2) <= 1, `region ${sent.region} vs canvas ${canvasRegion}`));
  assert.deepEqual(await layerCounts(page), { 'classifier-demo': '1/2', 'detector-demo': '4/5' });
  const newBox = page.locator('[data-annoserver-box="detector-demo"]', { hasText: 'figure 0.77' });
  assert.equal(await newBox.count(), 1, 'the analysed box is drawn at once');
  step(`analysed region ${sent.region} (image px); result drawn`);

  // 4. review it with a token kept for the session
  await page.locator('[data-testid="annoserver-token"]').fill('secret-token');
  await page.getByRole('button', { name: 'Use', exact: true }).click();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('annoserver.token')), 'secret-token');
  await newBox.locator('button').click();
  const status = page.locator('[data-testid="annoserver-review-status"]');
  assert.equal(await status.innerText(), 'machine-generated, not verified');
  await page.getByRole('button', { name: 'Accept' }).click();
  await page.locator('[data-testid="annoserver-review-status"]', { hasText: 'accepted by a reviewer' }).waitFor({ timeout: 5000 });
  const review = requests.find((r) => r.path.endsWith('/review'));
  assert.equal(review.path, '/annotations/analysis-detector-demo-1/review');
  assert.deepEqual(review.body, { verdict: 'accepted' });
  assert.equal(review.authorization, 'Bearer secret-token');
  step('accepted with a bearer token');

  await page.locator('.annoserver-panel').evaluate((el) => el.scrollIntoView({ block: 'start' }));
  await page.screenshot({ path: path.join(outDir, 'viewer.png') });
  step('screenshot test-output/viewer.png');

  // 5. the embed example (script-tag bundle in someone else's page)
  const embed = await context.newPage();
  embed.on('pageerror', (e) => errors.push(`embed pageerror: ${e.message}`));
  await embed.goto(`${base}/examples/embed.html?server=${encodeURIComponent(base)}&manifest=${encodeURIComponent(manifest)}`);
  await embed.locator('[data-testid="annoserver-layers"] [data-model="detector-demo"]').waitFor({ timeout: 20000 });
  step('embed example shows the layers');

  const unexpected = errors.filter((e) => !/Failed to load resource/.test(e));
  assert.deepEqual(unexpected, [], 'no page errors');
} catch (e) {
  failed = true;
  console.error(e);
  console.error('browser errors:', errors);
  try {
    const pages = browser.contexts().flatMap((c) => c.pages());
    if (pages[0]) await pages[0].screenshot({ path: path.join(outDir, 'failure.png') });
  } catch (ignored) { /* best effort */ }
} finally {
  await browser.close();
  await server.close();
}
console.log(failed ? 'browser test FAILED' : `browser test passed in ${((Date.now() - started) / 1000).toFixed(1)}s`);
process.exit(failed ? 1 : 0);

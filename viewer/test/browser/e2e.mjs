/**
 * The end-to-end test: headless Debian chromium driven by playwright-core against the REAL
 * annoserver (test/browser/annoserver.mjs: gunicorn, SQLite, shipped ONNX models, a write
 * token) serving the built viewer at /viewer/. A two-canvas manifest is enriched through
 * POST /manifests first; its second canvas is twice the size of its image, so the scaling
 * between canvas and image is exercised. Every request not to 127.0.0.1 is aborted.
 *
 * Checks, with a screenshot of each step in test-output/:
 *  1. the per-model AnnotationPages reach Mirador's store and are drawn (boxes and badges);
 *  2. the confidence control changes what is drawn, listed and counted;
 *  3. dragging the bare image pans it;
 *  4. Mirador's own search panel finds a term through the Content Search 1.0 service; the
 *     hits are listed and the selected one is highlighted where its text line is;
 *  5. on p. 2, a rectangle drawn at a known place is analysed (and saved, with the token),
 *     and the result lies at the right canvas coordinates, drawn at once, and listed in the
 *     enriched manifest's pages; Enhanced view opens that region through the server's
 *     super-resolution image service;
 *  6. Accept records a review on the server (read back with GET);
 *  7. examples/embed.html, served by another site, shows the layers;
 *  8. the panel's whole-manifest job, with one chosen model, runs until its progress says done;
 *  9. Find similar on p. 1 (from the keyboard) lists what the jobs' stored embeddings rank
 *     (p. 2, the same picture, first) with thumbnails from the image servers, and choosing
 *     p. 2 shows it.
 *
 * Needs: npm run build (dist/), make install (.venv with annoserver), /usr/bin/chromium.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CANVAS_SCALE, startAnnoserver } from './annoserver.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const outDir = path.join(root, 'test-output');
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const DETECTOR = 'ppocr-det-v4';
const CLASSIFIER = 'efficientnet-lite0';
const SUPERRES = 'espcn-x2';
const SEARCH_TERM = 'text';
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

const server = await startAnnoserver({ models: [DETECTOR, CLASSIFIER], extraModels: [SUPERRES] });
const { base, site, token } = server;
step(`annoserver at ${base}; ${server.job.total} units enriched`);

async function readJson(url) {
  const response = await fetch(url, { headers: { Accept: 'application/ld+json' } });
  assert.equal(response.status, 200, `GET ${url}`);
  return response.json();
}

/** What the server says is on each canvas: per model, the annotations with their confidence. */
async function serverCanvases(enrichedUrl) {
  const manifest = await readJson(enrichedUrl);
  const canvases = [];
  for (const canvas of manifest.items) {
    const pages = {};
    for (const ref of canvas.annotations || []) {
      const page = await readJson(ref.id);
      const model = page.items[0].creator.name;
      pages[model] = {
        id: ref.id,
        items: page.items.map((a) => ({
          id: a.id,
          confidence: Math.max(...[a, ...[].concat(a.body)].map((x) => x.confidence ?? -1)),
          xywh: a.target.selector ? a.target.selector.value.replace('xywh=', '') : null,
        })),
      };
    }
    canvases.push({ canvas, pages });
  }
  return { manifest, canvases };
}

const counts = (items, min) => items.filter((i) => i.confidence >= min - 1e-9).length;

async function layerCounts(page) {
  return page.$$eval('[data-testid="annoserver-layers"] [data-model]', (rows) => Object.fromEntries(
    rows.map((row) => [row.dataset.model, `${row.dataset.shown}/${row.dataset.total}`]),
  ));
}

function screenshot(page, name) {
  return page.screenshot({ path: path.join(outDir, name) });
}

/**
 * Show canvas pixels [left, left + width) across the viewer, through Mirador's own viewport
 * action. OpenSeadragon's world is in canvas pixels for a single canvas, and 1/zoom of it is
 * in view, so screen points follow from canvas points independently of the plugin's geometry.
 * Returns canvasToScreen(x, y) and the canvas pixels per screen pixel.
 */
async function showCanvasPart(page, windowId, left, top, width) {
  const osd = await page.locator('.openseadragon-container').first().boundingBox();
  const height = width * (osd.height / osd.width);
  await page.evaluate(({ id, v }) => window.annoserverViewer.store.dispatch(
    window.AnnoserverMirador.Mirador.actions.updateViewport(id, v),
  ), { id: windowId, v: { x: left + width / 2, y: top + height / 2, zoom: 1 / width } });
  let last = null; // wait until the drawn boxes stop moving
  for (let i = 0; i < 50; i += 1) {
    await page.waitForTimeout(150);
    const now = JSON.stringify(await page.locator('[data-annoserver-box] rect').first().boundingBox());
    if (now === last) break;
    last = now;
  }
  const perPixel = width / osd.width;
  return {
    perPixel,
    toScreen: (cx, cy) => ({ x: osd.x + (cx - left) / perPixel, y: osd.y + (cy - top) / perPixel }),
  };
}

/** The plugin draws a box where the independent mapping puts its corners. */
async function assertBoxAt(page, item, toScreen) {
  const [x, y, w, h] = item.xywh.split(',').map(Number);
  const box = await page.locator(`[data-annotation-id="${item.id}"] rect`).first().boundingBox();
  const [topLeft, bottomRight] = [toScreen(x, y), toScreen(x + w, y + h)];
  const got = [box.x, box.y, box.x + box.width, box.y + box.height];
  const want = [topLeft.x, topLeft.y, bottomRight.x, bottomRight.y];
  assert.ok(got.every((v, i) => Math.abs(v - want[i]) < 3), `box of ${item.xywh} drawn at ${got}, expected ${want}`);
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage'],
});
const errors = [];
let failed = false;

try {
  const { manifest: enriched, canvases } = await serverCanvases(server.enriched);
  const [p1, p2] = canvases;
  assert.deepEqual(canvases.map((c) => c.canvas.width), [1000, CANVAS_SCALE * 1000]);
  const detector = p1.pages[DETECTOR].items;
  const classifier = p1.pages[CLASSIFIER].items;
  assert.ok(detector.length >= 3, `the detector found ${detector.length} text lines on the demo page`);

  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  // Nothing leaves 127.0.0.1.
  await context.route('**/*', (route) => {
    const { hostname } = new URL(route.request().url());
    return hostname === '127.0.0.1' ? route.continue() : route.abort();
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });

  // 1. the enriched manifest's pages reach Mirador's store and are drawn
  await page.goto(`${base}/viewer/?manifest=${encodeURIComponent(server.enriched)}`);
  const layers = page.locator('[data-testid="annoserver-layers"]');
  await layers.locator(`[data-model="${DETECTOR}"]`).waitFor({ timeout: 30000 });
  await layers.locator(`[data-model="${CLASSIFIER}"]`).waitFor({ timeout: 10000 });
  const storedPages = (canvasId) => page.evaluate((id) => {
    const byPage = window.annoserverViewer.store.getState().annotations[id] || {};
    return Object.fromEntries(Object.entries(byPage).map(([pageId, p]) => [pageId, p.json ? p.json.items.length : null]));
  }, canvasId);
  assert.deepEqual(await storedPages(p1.canvas.id),
    { [p1.pages[DETECTOR].id]: detector.length, [p1.pages[CLASSIFIER].id]: classifier.length },
    "both AnnotationPages of p. 1 are in Mirador's store");
  assert.deepEqual(await layerCounts(page), {
    [CLASSIFIER]: `${classifier.length}/${classifier.length}`, [DETECTOR]: `${detector.length}/${detector.length}`,
  });
  await page.locator('[data-annoserver-box]').first().waitFor({ timeout: 10000 });
  assert.equal(await page.locator(`[data-annoserver-box="${DETECTOR}"]`).count(), detector.length, 'a box per text line');
  assert.equal(await page.locator(`[data-annoserver-badge="${CLASSIFIER}"]`).count(), classifier.length, 'whole-canvas badges');
  assert.match(await layers.innerText(), new RegExp(`${DETECTOR} v4\\.0\\.0[\\s\\S]*${detector.length} of ${detector.length} shown`));
  await screenshot(page, '1-layers.png');
  step(`p. 1 layers: ${DETECTOR} ${detector.length}, ${CLASSIFIER} ${classifier.length}; drawn`);

  // 2. the confidence control (keyboard) changes what is drawn, listed and counted: the first
  // slider step that hides some text lines but not all of them
  let steps = 1;
  while (steps < 20 && counts(detector, steps * 0.05) === detector.length) steps += 1;
  const threshold = Math.round(steps * 5) / 100;
  assert.ok(counts(detector, threshold) > 0 && counts(detector, threshold) < detector.length,
    `no slider step splits the text lines' confidences ${detector.map((i) => i.confidence)}`);
  const slider = page.locator('[data-testid="annoserver-confidence"] [role="slider"]');
  await slider.focus();
  for (let i = 0; i < steps; i += 1) await slider.press('ArrowRight');
  assert.equal(Number(await slider.getAttribute('aria-valuenow')), threshold);
  const shown = { [DETECTOR]: counts(detector, threshold), [CLASSIFIER]: counts(classifier, threshold) };
  assert.deepEqual(await layerCounts(page), {
    [CLASSIFIER]: `${shown[CLASSIFIER]}/${classifier.length}`, [DETECTOR]: `${shown[DETECTOR]}/${detector.length}`,
  });
  assert.equal(await page.locator(`[data-annoserver-box="${DETECTOR}"]`).count(), shown[DETECTOR], 'boxes follow the threshold');
  assert.equal(await page.locator('[data-annoserver-badge]').count(), shown[CLASSIFIER], 'badges follow the threshold');
  assert.match(await page.locator('[data-testid="annoserver-count"]').innerText(),
    new RegExp(`Showing ${shown[DETECTOR] + shown[CLASSIFIER]} of ${detector.length + classifier.length}`));
  await screenshot(page, '2-confidence.png');
  await slider.press('Home');
  assert.equal(await page.locator(`[data-annoserver-box="${DETECTOR}"]`).count(), detector.length);
  step(`confidence ${threshold}: ${DETECTOR} ${shown[DETECTOR]}/${detector.length}, ${CLASSIFIER} ${shown[CLASSIFIER]}/${classifier.length}`);

  // 3. dragging the bare image pans it (the overlay takes the mouse only while drawing)
  const boxBefore = await page.locator('[data-annoserver-box] rect').first().boundingBox();
  const osd = await page.locator('.openseadragon-container').first().boundingBox();
  await page.mouse.move(osd.x + osd.width * 0.5, osd.y + osd.height * 0.85);
  await page.mouse.down();
  await page.mouse.move(osd.x + osd.width * 0.4, osd.y + osd.height * 0.8, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction((before) => {
    const r = document.querySelector('[data-annoserver-box] rect').getBoundingClientRect();
    return Math.abs(r.x - before.x) > 20;
  }, boxBefore, { timeout: 5000 });
  step('dragging the image pans it; the boxes follow');

  // 4. Mirador's own search panel, through the enriched manifest's Content Search 1.0 service
  const windowId = await page.evaluate(() => Object.keys(window.annoserverViewer.store.getState().windows)[0]);
  const search1 = [].concat(enriched.service || [])
    .find((x) => x.profile === 'http://iiif.io/api/search/1/search' || x.type === 'SearchService1');
  assert.ok(search1, 'the enriched manifest lists a Content Search 1.0 service (SearchService1, GET /search/{key}/v1)');
  const found = (await readJson(`${search1.id}?q=${SEARCH_TERM}`)).resources;
  assert.ok(found.length > 0, `the search service finds "${SEARCH_TERM}"`);
  await page.getByRole('tab', { name: 'Search' }).click();
  const input = page.getByLabel('search terms');
  await input.fill(SEARCH_TERM);
  await input.press('Enter');
  const hits = page.locator('aside[aria-label="Search"] li');
  await hits.first().waitFor({ timeout: 15000 });
  assert.equal(await hits.count(), found.length, 'Mirador lists every hit');
  await page.locator('aside[aria-label="Search"] li.Mui-selected').waitFor({ timeout: 5000 });
  const selected = await page.evaluate((id) => Object.values(window.annoserverViewer.store.getState().searches[id] || {})
    .flatMap((x) => x.selectedContentSearchAnnotationIds || []), windowId);
  assert.equal(selected.length, 1, 'one hit is selected');
  const hit = found.find((r) => r['@id'] === selected[0]);
  const [hitCanvas, hitXywh] = hit.on.split('#xywh=');
  assert.equal(hitCanvas, p1.canvas.id, 'the first hit is on p. 1');
  // Mirador paints hits on a canvas over OpenSeadragon: the selected one (yellow) must cover
  // the middle of its text line
  const hitView = await showCanvasPart(page, windowId, 0, 0, 1000);
  const [hx, hy, hw, hh] = hitXywh.split(',').map(Number);
  const centre = hitView.toScreen(hx + hw / 2, hy + hh / 2);
  const pixel = await page.evaluate(({ x, y }) => {
    const overlay = [...document.querySelectorAll('.openseadragon-canvas canvas')]
      .find((c) => !c.parentElement.classList.contains('openseadragon-canvas'));
    const r = overlay.getBoundingClientRect();
    const k = overlay.width / r.width;
    return [...overlay.getContext('2d').getImageData(Math.round((x - r.left) * k), Math.round((y - r.top) * k), 1, 1).data];
  }, centre);
  assert.ok(pixel[0] > 200 && pixel[1] > 200 && pixel[2] < 120 && pixel[3] > 0,
    `the selected hit ${hitXywh} is highlighted in yellow at its place (pixel ${pixel})`);
  await screenshot(page, '3-search.png');
  await page.getByRole('button', { name: 'clear' }).click();
  await page.getByRole('tab', { name: 'Machine annotations' }).click();
  step(`search "${SEARCH_TERM}": ${found.length} hits listed; the selected one highlighted on its text line`);

  // 5. on p. 2 (canvas twice the image's size), draw a rectangle at a known place and analyse it
  await page.getByRole('button', { name: 'Next item' }).click();
  const detector2 = p2.pages[DETECTOR].items;
  const classifier2 = p2.pages[CLASSIFIER].items;
  // both layers listed at their size: both pages fetched (Mirador fetches them one by one)
  await page.waitForFunction((totals) => Object.entries(totals).every(([model, total]) => {
    const row = document.querySelector(`[data-testid="annoserver-layers"] [data-model="${model}"]`);
    return row && row.dataset.total === String(total);
  }), { [DETECTOR]: detector2.length, [CLASSIFIER]: classifier2.length }, { timeout: 10000 });
  assert.deepEqual(await storedPages(p2.canvas.id),
    { [p2.pages[DETECTOR].id]: detector2.length, [p2.pages[CLASSIFIER].id]: classifier2.length });
  const { perPixel, toScreen } = await showCanvasPart(page, windowId, 100, 100, 1600);
  // the text line farthest from the view's corner: any error of scale shows most there
  const rectOf = (item) => item.xywh.split(',').map(Number);
  const inView = detector2.filter((i) => rectOf(i)[0] + rectOf(i)[2] < 1700 && rectOf(i)[1] + rectOf(i)[3] < 1500);
  const line = inView.reduce((a, b) => (rectOf(b)[1] > rectOf(a)[1] ? b : a));
  await assertBoxAt(page, line, toScreen);

  await page.locator('[data-testid="annoserver-token"]').fill(token);
  await page.getByRole('button', { name: 'Use', exact: true }).click();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('annoserver.token')), token);
  await page.getByRole('checkbox', { name: 'Save results on the server' }).check();
  await page.getByRole('checkbox', { name: new RegExp(`^${CLASSIFIER} \\(classifier`) }).check();
  await page.getByRole('checkbox', { name: new RegExp(`^${DETECTOR} \\(text-lines`) }).check();
  assert.equal(await page.getByRole('checkbox', { name: /superres/ }).count(), 0, 'super-resolution is not offered for Analyse');

  await page.locator('[data-testid="annoserver-draw"]').click();
  await page.locator('[data-testid="annoserver-draw-surface"]').waitFor();
  const drawn = { x: 200, y: 200, w: 1100, h: 520 }; // canvas pixels
  const from = toScreen(drawn.x, drawn.y);
  const to = toScreen(drawn.x + drawn.w, drawn.y + drawn.h);
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 4 });
  await page.mouse.move(to.x, to.y, { steps: 4 });
  await page.mouse.up();
  await page.locator('[data-testid="annoserver-draw-surface"]').waitFor({ state: 'detached' });
  const tolerance = 2 * perPixel + 2 * CANVAS_SCALE; // a screen pixel each way, then image-pixel rounding
  const near = (got, want, what) => ['x', 'y', 'w', 'h'].forEach((k, i) => assert.ok(
    Math.abs(got[i] - want[k]) <= tolerance, `${what} ${got} vs drawn ${Object.values(want)} (± ${tolerance.toFixed(1)})`,
  ));
  const regionText = await page.locator('[data-testid="annoserver-region"]').innerText();
  near(regionText.match(/Region (\d+),(\d+),(\d+),(\d+) \(canvas\) on p\. 2/).slice(1).map(Number), drawn, 'region');

  const [request, response] = await Promise.all([
    page.waitForRequest((r) => r.url() === `${base}/analyze` && r.method() === 'POST'),
    page.waitForResponse((r) => r.url() === `${base}/analyze` && r.request().method() === 'POST', { timeout: 60000 }),
    page.locator('[data-testid="annoserver-analyze"]').click(),
  ]);
  const sent = request.postDataJSON();
  assert.equal(response.status(), 200, `POST /analyze: ${await response.text()}`);
  assert.deepEqual(sent.canvas, { id: p2.canvas.id, width: p2.canvas.width, height: p2.canvas.height });
  assert.deepEqual([...sent.models].sort(), [CLASSIFIER, DETECTOR].sort());
  assert.equal(sent.persist, true);
  assert.equal(sent.manifest, server.enriched, 'the open manifest is the enriched one');
  assert.equal(request.headers().authorization, `Bearer ${token}`);
  // the request is in image pixels: the canvas region divided by the scale
  near(sent.region.split(',').map((v) => Number(v) * CANVAS_SCALE), drawn, 'image region × scale');
  const made = (await response.json()).items.map((a) => ({
    id: a.id, model: a.creator.name, xywh: a.target.selector.value.replace('xywh=', '').split(',').map(Number),
  }));
  const tags = made.filter((a) => a.model === CLASSIFIER);
  assert.ok(tags.length > 0, 'the classifier labelled the region');
  tags.forEach((a) => near(a.xywh, drawn, `${CLASSIFIER} target`));
  made.filter((a) => a.model === DETECTOR).forEach((a) => assert.ok(
    a.xywh[0] >= drawn.x - tolerance && a.xywh[1] >= drawn.y - tolerance
      && a.xywh[0] + a.xywh[2] <= drawn.x + drawn.w + tolerance && a.xywh[1] + a.xywh[3] <= drawn.y + drawn.h + tolerance,
    `text line ${a.xywh} lies inside the drawn region`,
  ));
  await page.locator('[data-testid="annoserver-analyze-status"]', { hasText: 'annotation' }).waitFor();
  assert.match(await page.locator('[data-testid="annoserver-analyze-status"]').innerText(), /\(saved\)/);
  for (const a of made) {
    assert.equal(await page.locator(`[data-annotation-id="${a.id}"]`).count(), 1, `${a.id} drawn at once`);
    assert.equal((await fetch(a.id)).status, 200, `${a.id} saved on the server`);
  }
  // saved under the registered source (the request names the enriched manifest, which the
  // server maps back), so the enriched manifest's per-model pages of p. 2 list them
  for (const model of [CLASSIFIER, DETECTOR]) {
    const listed = (await readJson(p2.pages[model].id)).items.map((a) => a.id);
    made.filter((a) => a.model === model).forEach((a) => assert.ok(listed.includes(a.id), `${a.id} in ${p2.pages[model].id}`));
  }
  const madeBy = (model) => made.filter((a) => a.model === model).length;
  assert.deepEqual(await layerCounts(page), {
    [CLASSIFIER]: `${classifier2.length + madeBy(CLASSIFIER)}/${classifier2.length + madeBy(CLASSIFIER)}`,
    [DETECTOR]: `${detector2.length + madeBy(DETECTOR)}/${detector2.length + madeBy(DETECTOR)}`,
  });
  await screenshot(page, '4-analyse.png');
  step(`p. 2: analysed canvas region ${Object.values(drawn)} (image ${sent.region}): ${made.length} annotations, drawn and saved`);

  // Enhanced view: the drawn region through the server's super-resolution image service
  const [popup, enhanced] = await Promise.all([
    context.waitForEvent('page'),
    context.waitForEvent('response', { predicate: (r) => r.url().startsWith(`${base}/iiif/sr/`), timeout: 60000 }),
    page.locator('[data-testid="annoserver-enhanced"]').click(),
  ]);
  const serviceId = p2.canvas.items[0].items[0].body.service[0].id;
  const srBase = `${base}/iiif/sr/${SUPERRES}/${Buffer.from(serviceId).toString('base64url')}/`;
  assert.ok(enhanced.url().startsWith(srBase), `Enhanced view opens ${enhanced.url()}, not under ${srBase}`);
  const srRegion = enhanced.url().slice(srBase.length).split('/')[0];
  assert.match(srRegion, /^pct:/, 'without a scale in /models, the region is a percentage');
  const pct = srRegion.slice(4).split(',').map(Number);
  near([pct[0] * p2.canvas.width, pct[1] * p2.canvas.height, pct[2] * p2.canvas.width, pct[3] * p2.canvas.height]
    .map((v) => v / 100), drawn, 'enhanced region');
  assert.equal(enhanced.status(), 200, `GET ${enhanced.url()}: ${enhanced.status()}`);
  assert.equal(enhanced.headers()['content-type'], 'image/jpeg');
  await popup.waitForLoadState();
  await screenshot(popup, '5-enhanced.png');
  await popup.close();
  step(`Enhanced view: ${SUPERRES} region ${srRegion}`);

  // 6. accept one of the enrichment's annotations (chosen in the list, from the keyboard)
  const entry = page.locator('[data-testid="annoserver-list"] [role="button"]', { hasText: `region ${line.xywh}` });
  await entry.focus();
  await entry.press('Enter');
  assert.equal(await page.locator('[data-testid="annoserver-review-status"]').innerText(), 'machine-generated, not verified');
  const [reviewResponse] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/review') && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Accept' }).click(),
  ]);
  assert.equal(reviewResponse.url(), `${line.id}/review`);
  assert.equal(reviewResponse.status(), 201, `POST /annotations/{id}/review: ${await reviewResponse.text()}`);
  await page.locator('[data-testid="annoserver-review-status"]', { hasText: 'accepted' }).waitFor({ timeout: 5000 });
  const reviewed = await readJson(line.id);
  assert.equal(reviewed.review && reviewed.review.verdict, 'accepted', `GET ${line.id} carries the review`);
  await screenshot(page, '6-review.png');
  step(`accepted ${line.id}; the server records it`);

  // 7. the embed example, on another site, with the script-tag bundle
  const embed = await context.newPage();
  embed.on('pageerror', (e) => errors.push(`embed pageerror: ${e.message}`));
  embed.on('console', (m) => { if (m.type() === 'error') errors.push(`embed console: ${m.text()}`); });
  await embed.goto(`${site}/examples/embed.html?server=${encodeURIComponent(base)}&manifest=${encodeURIComponent(server.enriched)}`);
  const embedded = embed.locator(`[data-testid="annoserver-layers"] [data-model="${DETECTOR}"]`);
  await embedded.waitFor({ timeout: 30000 });
  // the example starts at confidence 0.3
  assert.equal(Number(await embed.locator('[data-testid="annoserver-confidence"] [role="slider"]').getAttribute('aria-valuenow')), 0.3);
  assert.equal(await embedded.getAttribute('data-total'), String(detector.length));
  assert.equal(await embedded.getAttribute('data-shown'), String(counts(detector, 0.3)));
  await embed.locator('[data-annoserver-box]').first().waitFor({ timeout: 10000 });
  await screenshot(embed, '7-embed.png');
  step('the embed example shows the layers');

  // 8. the whole-manifest job from the panel: the open (enriched) manifest, with one chosen model
  await page.bringToFront();
  await page.getByRole('checkbox', { name: new RegExp(`^${DETECTOR} \\(text-lines`) }).uncheck();
  const [jobRequest, jobResponse] = await Promise.all([
    page.waitForRequest((r) => r.url() === `${base}/manifests` && r.method() === 'POST'),
    page.waitForResponse((r) => r.url() === `${base}/manifests` && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Enrich every canvas with the chosen models' }).click(),
  ]);
  assert.deepEqual(jobRequest.postDataJSON(), { url: server.enriched, models: [CLASSIFIER] });
  assert.equal(jobResponse.status(), 202, `POST /manifests: ${await jobResponse.text()}`);
  // the server maps its own /manifests/{key} back to the registered source: the same manifest
  assert.equal((await jobResponse.json()).manifest, server.enriched);
  const units = canvases.length; // one per canvas and model
  const progress = page.locator('[data-testid="annoserver-job-progress"]');
  await progress.filter({ hasText: `done: ${units} of ${units} units` }).waitFor({ timeout: 20000 });
  await page.getByRole('button', { name: 'Open the enriched manifest' }).waitFor();
  assert.equal((await readJson(p1.pages[CLASSIFIER].id)).items.length, classifier.length, 'enriching again adds no duplicates');
  await screenshot(page, '8-job.png');
  step(`whole-manifest job with ${CLASSIFIER}: ${await progress.innerText()}`);

  // 9. find similar: p. 1's stored vector (the jobs stored one per canvas with the classifier,
  // and the saved analysis one for the drawn region of p. 2); choosing p. 2 shows it
  await page.getByRole('button', { name: 'Previous item' }).click();
  await page.locator('[data-testid="annoserver-similar-panel"]', { hasText: 'look like p. 1.' }).waitFor({ timeout: 5000 });
  const findSimilar = page.locator('[data-testid="annoserver-similar"]');
  assert.match(await findSimilar.innerText(), /^find similar$/i, 'no region is drawn on p. 1: the canvas is the query');
  const [similarResponse] = await Promise.all([
    page.waitForResponse((r) => r.url().startsWith(`${base}/similar?`), { timeout: 10000 }),
    findSimilar.focus().then(() => findSimilar.press('Enter')),
  ]);
  assert.equal(similarResponse.status(), 200, `GET /similar: ${await similarResponse.text()}`);
  assert.equal(new URL(similarResponse.url()).searchParams.get('canvas'), p1.canvas.id);
  const similarItems = (await similarResponse.json()).items;
  assert.ok(similarItems.length >= 2, `p. 2 and the saved region of p. 2 are stored: ${JSON.stringify(similarItems)}`);
  assert.equal(similarItems[0].canvas, p2.canvas.id, 'the same picture on p. 2 is the most similar');
  assert.ok(similarItems[0].score > 0.8, `p. 2 scores ${similarItems[0].score}`);
  const results = page.locator('[data-testid="annoserver-similar-results"] [data-canvas]');
  await results.first().waitFor({ timeout: 5000 });
  assert.equal(await results.count(), similarItems.length, 'every result is listed');
  assert.match(await results.first().innerText(), new RegExp(`1\\. p\\. 2[\\s\\S]*score ${similarItems[0].score.toFixed(3)} · this manifest`));
  // the thumbnails come from the image services (p. 2's from the reference image server)
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="annoserver-similar-results"] img')]
    .every((img) => img.complete && img.naturalWidth > 0), null, { timeout: 5000 });
  assert.equal(await results.locator('img').count(), similarItems.length, 'a thumbnail per result');
  await page.locator('[data-testid="annoserver-similar-panel"]').evaluate((e) => e.scrollIntoView());
  await screenshot(page, '9-similar.png');
  await results.first().focus();
  await results.first().press('Enter');
  await page.waitForFunction(({ id, canvas }) => window.annoserverViewer.store.getState().windows[id].canvasId === canvas,
    { id: windowId, canvas: p2.canvas.id }, { timeout: 5000 });
  step(`find similar to p. 1: ${similarItems.map((i) => `${i.canvas === p2.canvas.id ? 'p. 2' : i.canvas}${i.region === 'full' ? '' : ` region ${i.region}`} ${i.score.toFixed(3)}`).join(', ')}; chose p. 2`);

  assert.deepEqual(errors, [], 'no page errors, no console errors');
} catch (e) {
  failed = true;
  console.error(e);
  console.error('browser errors:', errors);
  try {
    const pages = browser.contexts().flatMap((c) => c.pages());
    if (pages.length) await pages[pages.length - 1].screenshot({ path: path.join(outDir, 'failure.png') });
  } catch (ignored) { /* best effort */ }
} finally {
  await browser.close();
  await server.close();
}
if (failed) console.error(`server log (last lines):\n${server.log().split('\n').slice(-30).join('\n')}`);
console.log(failed ? 'browser test FAILED' : `browser test passed in ${((Date.now() - started) / 1000).toFixed(1)}s`);
process.exit(failed ? 1 : 0);

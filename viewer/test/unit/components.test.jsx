// @vitest-environment jsdom
/**
 * The plugin's Panel and Overlay rendered (React 16, @testing-library/react 12, jsdom) with the
 * props that the plugin's own mapStateToProps and mapDispatchToProps make from a real Mirador
 * store. Mirador's sagas fetch the fixture manifest and its pages from the fixture server, which
 * also answers the Panel's HTTP client (GET /models, reviews, POST /manifests, GET /jobs/1,
 * GET /similar).
 * The OpenSeadragon viewer is a stand-in that shows the whole canvas at half size.
 */
import React from 'react';
import {
  afterAll, afterEach, beforeAll, beforeEach, describe, expect, test,
} from 'vitest';
import {
  cleanup, fireEvent, render, screen, waitFor, within,
} from '@testing-library/react';
import { annoserverPlugin } from '../../src/plugin.jsx';
import { Mirador, createStore } from '../../src/mirador-api.js';
import { Panel } from '../../src/components/Panel.jsx';
import { startFixtureServer } from './fixture-server.mjs';

let server;
beforeAll(async () => { server = await startFixtureServer(); });
afterAll(async () => { await server.close(); });
beforeEach(() => { sessionStorage.clear(); server.requests.length = 0; server.similar.answer = null; });
afterEach(cleanup);

const WINDOW = 'w1';
const companion = annoserverPlugin.find((p) => p.target === 'CompanionWindowFactory');
const overlay = annoserverPlugin.find((p) => p.target === 'OpenSeadragonViewer');

/** What Mirador's connect() gives a plugin component: mapped state, mapped dispatch, own props. */
function Connected({
  store, definition, ownProps, children,
}) {
  const [mapState] = React.useState(() => definition.mapStateToProps());
  const [state, setState] = React.useState(() => store.getState());
  React.useEffect(() => store.subscribe(() => setState(store.getState())), [store]);
  return children({ ...ownProps, ...mapState(state, ownProps), ...definition.mapDispatchToProps(store.dispatch, ownProps) });
}

/** A real Mirador store with the fixture manifest open in window w1 and both pages fetched. */
async function miradorStore() {
  const store = createStore({ annoserver: { server: server.base, minConfidence: 0.25, jobPollMs: 20 } }, annoserverPlugin);
  store.dispatch(Mirador.actions.addWindow({ id: WINDOW, manifestId: `${server.base}/fixtures/manifest.json` }));
  await waitFor(() => {
    const pages = store.getState().annotations[`${server.base}/fixtures/canvas/1`];
    expect(pages && Object.values(pages).filter((p) => p.json)).toHaveLength(2);
  }, { interval: 5 });
  return store;
}

/** OpenSeadragon as the overlay sees it: the 2000 × 1500 canvas in a 1000 × 750 container. */
const viewer = {
  viewport: { getBounds: () => ({ x: 0, y: 0, width: 2000, height: 1500 }), getContainerSize: () => ({ x: 1000, y: 750 }) },
  addHandler() {},
  removeHandler() {},
};

async function renderPlugin() {
  const store = await miradorStore();
  const canvasId = `${server.base}/fixtures/canvas/1`;
  // Mirador's CanvasWorld for one canvas, placed at the world's origin
  const canvasWorld = {
    canvasDimensions: [{ canvas: { id: canvasId, getWidth: () => 2000, getHeight: () => 1500 }, x: 0, y: 0, width: 2000, height: 1500 }],
  };
  const view = render(
    <div>
      <Connected store={store} definition={companion} ownProps={{ targetProps: { content: 'annoserver', windowId: WINDOW, id: 'cw' } }}>
        {(props) => <Panel {...props} windowId={WINDOW} />}
      </Connected>
      <Connected store={store} definition={overlay} ownProps={{ windowId: WINDOW, viewer, canvasWorld }}>
        {(props) => <overlay.component {...props} />}
      </Connected>
    </div>,
  );
  // the models are listed (GET /models): the Analyse button is enabled
  await waitFor(() => expect(screen.getByTestId('annoserver-analyze').disabled).toBe(false), { interval: 5 });
  return { store, view };
}

const layerRows = () => [...screen.getByTestId('annoserver-layers').querySelectorAll('[data-model]')]
  .map((row) => `${row.dataset.model}:${row.dataset.shown}/${row.dataset.total}`);
const listed = () => [...screen.getByTestId('annoserver-list').querySelectorAll('.MuiListItemText-primary')]
  .map((e) => e.textContent);
const count = () => screen.getByTestId('annoserver-count').textContent;
const drawn = (container) => ({
  boxes: container.querySelectorAll('[data-annoserver-box]').length,
  badges: [...container.querySelectorAll('[data-annoserver-badge]')].map((b) => b.textContent),
});

describe('Panel and Overlay in a real Mirador store', () => {
  test('layers, the confidence control and the label filter change what is listed, counted and drawn', async () => {
    const { store, view } = await renderPlugin();
    expect(screen.getByTestId('annoserver-confidence')).toBeTruthy();
    expect(layerRows()).toEqual(['classifier-demo:1/2', 'detector-demo:4/4']);
    expect(count()).toBe('Showing 5 of 6 annotations');
    expect(listed()).toEqual(['illustration · 0.92', 'printed book · 0.88', 'illustration · 0.81', 'initial · 0.55', 'stamp · 0.31']);
    expect(drawn(view.container)).toEqual({ boxes: 4, badges: ['printed book 0.88'] });
    // detector-demo-1 (xywh=160,440,720,520) at half size
    const box = view.container.querySelector(`[data-annotation-id="${server.base}/annotations/detector-demo-1"] rect`);
    expect(['x', 'y', 'width', 'height'].map((a) => Number(box.getAttribute(a)))).toEqual([80, 220, 360, 260]);

    fireEvent.click(screen.getByLabelText('Show the classifier-demo layer'));
    expect(store.getState().annoserver[WINDOW].hidden).toEqual({ 'classifier-demo': true });
    expect(screen.getByTestId('annoserver-layers').textContent).toContain('hidden (2)');
    expect(count()).toBe('Showing 4 of 6 annotations');
    expect(listed()).not.toContain('printed book · 0.88');
    expect(drawn(view.container)).toEqual({ boxes: 4, badges: [] });

    // the slider from the keyboard: 0.25 + 7 steps of 0.05
    const thumb = screen.getByTestId('annoserver-confidence').querySelector('[role="slider"]');
    expect(thumb.getAttribute('aria-valuenow')).toBe('0.25');
    for (let i = 0; i < 7; i += 1) fireEvent.keyDown(thumb, { key: 'ArrowRight' });
    expect(thumb.getAttribute('aria-valuenow')).toBe('0.6');
    expect(screen.getByText('Minimum confidence: 0.60')).toBeTruthy();
    expect(layerRows()).toEqual(['classifier-demo:1/2', 'detector-demo:2/4']);
    expect(count()).toBe('Showing 2 of 6 annotations');
    expect(listed()).toEqual(['illustration · 0.92', 'illustration · 0.81']);
    expect(drawn(view.container).boxes).toBe(2);

    fireEvent.click(screen.getByLabelText('Show the classifier-demo layer'));
    expect(count()).toBe('Showing 3 of 6 annotations');
    expect(drawn(view.container)).toEqual({ boxes: 2, badges: ['printed book 0.88'] });

    fireEvent.change(screen.getByLabelText('Filter by label'), { target: { value: 'print' } });
    expect(layerRows()).toEqual(['classifier-demo:1/2', 'detector-demo:0/4']);
    expect(listed()).toEqual(['printed book · 0.88']);
    expect(drawn(view.container)).toEqual({ boxes: 0, badges: ['printed book 0.88'] });
  });

  test('a rectangle drawn on the surface becomes the region to analyse, in canvas coordinates', async () => {
    const { store } = await renderPlugin();
    fireEvent.click(screen.getByTestId('annoserver-draw'));
    const surface = screen.getByTestId('annoserver-draw-surface');
    fireEvent.pointerDown(surface, { clientX: 100, clientY: 100 });
    fireEvent.pointerMove(surface, { clientX: 200, clientY: 180 });
    fireEvent.pointerUp(surface, { clientX: 300, clientY: 250 });
    expect(store.getState().annoserver[WINDOW].region).toEqual({
      canvasId: `${server.base}/fixtures/canvas/1`, x: 200, y: 200, w: 400, h: 300,
    });
    expect(screen.queryByTestId('annoserver-draw-surface')).toBeNull();
    expect(screen.getByTestId('annoserver-region').textContent).toBe('Region 200,200,400,300 (canvas) on p. 1');
  });

  test('review buttons need a token, then post the verdict through the API client', async () => {
    const { store } = await renderPlugin();
    fireEvent.click(screen.getByText('illustration · 0.92'));
    const details = screen.getByTestId('annoserver-details');
    const status = () => screen.getByTestId('annoserver-review-status').textContent;
    expect(status()).toBe('machine-generated, not verified');
    const accept = within(details).getByText('Accept').closest('button');
    expect(accept.disabled).toBe(true);
    expect(details.textContent).toContain('Reviewing needs an access token');

    fireEvent.change(screen.getByLabelText('Bearer token'), { target: { value: 'secret' } });
    fireEvent.click(screen.getByText('Use').closest('button'));
    expect(sessionStorage.getItem('annoserver.token')).toBe('secret');
    expect(accept.disabled).toBe(false);

    fireEvent.click(accept);
    await waitFor(() => expect(status()).toBe('accepted by a reviewer'));
    const id = `${server.base}/annotations/detector-demo-1`;
    expect(server.requests).toEqual([
      { path: '/annotations/detector-demo-1/review', authorization: 'Bearer secret', body: { verdict: 'accepted' } },
    ]);
    expect(store.getState().annoserver[WINDOW].reviews).toEqual({ [id]: 'accepted' });

    fireEvent.change(within(details).getByLabelText('Correct label'), { target: { value: 'map' } });
    fireEvent.click(within(details).getByText('Correct').closest('button'));
    await waitFor(() => expect(status()).toBe('corrected by a reviewer'));
    expect(server.requests[1]).toEqual({
      path: '/annotations/detector-demo-1/review',
      authorization: 'Bearer secret',
      body: { verdict: 'corrected', body: { type: 'TextualBody', value: 'map', purpose: 'tagging' } },
    });
  });

  test('a whole-manifest job counts canvas × model units; the enriched manifest opens once it is done', async () => {
    const { store } = await renderPlugin();
    Object.assign(server.job, { state: 'running', total: 2, done: 1, eta: 3 });
    fireEvent.change(screen.getByLabelText('Bearer token'), { target: { value: 'secret' } });
    fireEvent.click(screen.getByText('Use').closest('button'));
    fireEvent.click(screen.getByText('Enrich every canvas with the chosen models').closest('button'));
    const progress = () => screen.getByTestId('annoserver-job-progress').textContent;
    await waitFor(() => expect(progress()).toBe('running: 1 of 2 units (one per canvas and model), about 3 s left'));
    expect(server.requests).toEqual([{
      path: '/manifests', authorization: 'Bearer secret', body: { url: `${server.base}/fixtures/manifest.json`, models: ['detector-demo'] },
    }]);
    expect(screen.queryByText('Open the enriched manifest')).toBeNull();
    expect(screen.getByText('Cancel')).toBeTruthy();

    Object.assign(server.job, { state: 'done', done: 2, eta: 0 });
    await waitFor(() => expect(progress()).toBe('done: 2 of 2 units (one per canvas and model)'));
    expect(screen.queryByText('Cancel')).toBeNull();
    fireEvent.click(screen.getByText('Open the enriched manifest').closest('button'));
    expect(Object.values(store.getState().windows).map((w) => w.manifestId))
      .toEqual([`${server.base}/fixtures/manifest.json`, `${server.base}/fixtures/manifest.json`]);
  });

  test('find similar: ranked results with thumbnails; one here navigates, one elsewhere opens its manifest; errors and empty answers are said', async () => {
    const { store } = await renderPlugin();
    const manifestId = `${server.base}/fixtures/manifest.json`;
    const canvas = (n) => `${server.base}/fixtures/canvas/${n}`;
    const find = screen.getByTestId('annoserver-similar');
    const status = () => screen.getByTestId('annoserver-similar-status').textContent;
    const rows = () => [...screen.getByTestId('annoserver-similar-results').querySelectorAll('[data-canvas]')];
    const texts = () => rows().map((row) => [...row.querySelectorAll('.MuiListItemText-root > *')].map((e) => e.textContent));
    expect(find.textContent).toBe('Find similar');
    expect(find.disabled).toBe(false);

    fireEvent.click(find);
    await waitFor(() => expect(status()).toBe('3 most similar in all manifests (embedding-demo 1.0.0, 4 stored vectors searched), best first:'));
    expect(server.requests).toEqual([{ path: '/similar', query: { canvas: canvas(1), k: '20', scope: 'all' } }]);
    expect(texts()).toEqual([
      ['1. p. 2', 'score 0.973 · this manifest'],
      ['2. p. 1 · image region 100,50,300,200', 'score 0.811 · this manifest (shown)'],
      ['3. …/canvas/7', 'score 0.612 · …/other/manifest.json'],
    ]);
    expect(rows().map((row) => row.querySelector('img').getAttribute('src'))).toEqual([
      `${server.base}/iiif/canvas-2/full/!200,200/0/default.jpg`,
      `${server.base}/iiif/canvas-1/100,50,300,200/!200,200/0/default.jpg`,
      `${server.base}/iiif/canvas-7/full/!200,200/0/default.jpg`,
    ]);
    // a thumbnail that fails to load leaves a blank square, not a broken image
    fireEvent.error(rows()[2].querySelector('img'));
    expect(rows()[2].querySelector('img')).toBeNull();
    expect(rows().map((row) => row.dataset.here)).toEqual(['true', 'true', 'false']);

    // a result in this manifest is a list entry: choosing it shows that canvas (Mirador's setCanvas)
    expect(rows()[0].getAttribute('role')).toBe('button');
    fireEvent.click(rows()[0]);
    expect(store.getState().windows[WINDOW].canvasId).toBe(canvas(2));
    await waitFor(() => expect(texts()[0]).toEqual(['1. p. 2', 'score 0.973 · this manifest (shown)']));
    expect(screen.getByTestId('annoserver-similar-panel').textContent).toContain('Canvases and regions that look like p. 2.');

    // a result elsewhere offers its manifest, in a new Mirador window
    fireEvent.click(within(rows()[2]).getByRole('button', { name: /^Open its manifest/ }));
    expect(Object.values(store.getState().windows).map((w) => w.manifestId)).toEqual([manifestId, `${server.base}/other/manifest.json`]);

    // p. 2 has no stored vector: the problem's detail is shown
    fireEvent.click(find);
    await waitFor(() => expect(screen.getByTestId('annoserver-similar-status').querySelector('[role="alert"]')).toBeTruthy());
    expect(status()).toBe(`Could not find similar images: No embedding of canvas '${canvas(2)}' (region 'full') by embedding-demo 1.0.0.`);
    expect(screen.queryByTestId('annoserver-similar-results')).toBeNull();

    // back on p. 1, a drawn region is asked about as a region of its image (image pixels: half)
    store.dispatch(Mirador.actions.setCanvas(WINDOW, canvas(1)));
    await waitFor(() => expect(screen.getByTestId('annoserver-draw')).toBeTruthy());
    fireEvent.click(screen.getByTestId('annoserver-draw'));
    const surface = screen.getByTestId('annoserver-draw-surface');
    fireEvent.pointerDown(surface, { clientX: 100, clientY: 100 });
    fireEvent.pointerUp(surface, { clientX: 300, clientY: 250 });
    expect(find.textContent).toBe('Find similar to the region');
    fireEvent.click(screen.getByLabelText('Only in this manifest'));
    fireEvent.click(find);
    await waitFor(() => expect(status()).toMatch(/^Nothing similar in this manifest: 4 stored vectors of embedding-demo 1.0.0 searched\./));
    expect(server.requests[2]).toEqual({
      path: '/similar',
      query: { image: `${server.base}/iiif/page1`, region: '100,100,200,150', k: '20', scope: 'manifest', manifest: manifestId },
    });
    expect(screen.queryByTestId('annoserver-similar-results')).toBeNull();

    // a server without an embedding index answers with a problem too
    server.similar.answer = { status: 404, body: { title: 'Not Found', detail: 'No installed model computes embeddings, so nothing can be compared.' } };
    fireEvent.click(find);
    await waitFor(() => expect(status()).toBe('Could not find similar images: No installed model computes embeddings, so nothing can be compared.'));
  });
});

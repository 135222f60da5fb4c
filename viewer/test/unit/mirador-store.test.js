/**
 * The plugin against a real Mirador 3 store: Mirador's own sagas fetch the enriched manifest
 * and the AnnotationPages its canvas lists (the fixtures, served on 127.0.0.1), and the plugin's
 * selectors and reducer turn them into layers; an analysis result enters through receiveAnnotation.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { annoserverPlugin } from '../../src/plugin.jsx';
import { Mirador, createStore, receiveAnnotation } from '../../src/mirador-api.js';
import { setMinConfidence, toggleLayer } from '../../src/state.js';
import { startFixtureServer } from './fixture-server.mjs';

// Mirador fetches with isomorphic-unfetch (node-fetch under Node), so serve the fixtures over
// real HTTP on 127.0.0.1.
let server;
beforeAll(async () => { server = await startFixtureServer(); });
afterAll(async () => { await server.close(); });

async function until(check, timeout = 3000) {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeout) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function panelProps(store, windowId, mapState) {
  return mapState(store.getState(), { targetProps: { content: 'annoserver', windowId, id: 'cw' } });
}

describe('in a real Mirador store', () => {
  test('enriched manifest pages become layers; filters and analysis results update them', async () => {
    const BASE = server.base;
    const MANIFEST_ID = `${BASE}/fixtures/manifest.json`;
    const CANVAS_ID = `${BASE}/fixtures/canvas/1`;
    const store = createStore({
      annoserver: { server: BASE, minConfidence: 0.25 },
    }, annoserverPlugin);
    store.dispatch(Mirador.actions.addWindow({ id: 'w1', manifestId: MANIFEST_ID }));
    await until(() => {
      const pages = store.getState().annotations[CANVAS_ID];
      return pages && Object.values(pages).filter((p) => p.json).length === 2;
    });
    const companion = annoserverPlugin.find((p) => p.target === 'CompanionWindowFactory');
    const mapState = companion.mapStateToProps();

    expect(mapState(store.getState(), { targetProps: { content: 'info', windowId: 'w1' } })).toEqual({ isAnnoserver: false });
    let props = panelProps(store, 'w1', mapState);
    expect(props.config.server).toBe(BASE);
    expect(props.manifest).toEqual({ id: MANIFEST_ID, url: MANIFEST_ID });
    expect(props.canvases).toEqual([expect.objectContaining({ id: CANVAS_ID, width: 2000, height: 1500, label: 'p. 1' })]);
    expect(props.view.layers.map((l) => `${l.model}:${l.shown}/${l.total}`)).toEqual(['classifier-demo:1/2', 'detector-demo:4/4']);
    expect(panelProps(store, 'w1', mapState)).toEqual(props); // stable while nothing changes
    expect(panelProps(store, 'w1', mapState).view).toBe(props.view);

    store.dispatch(setMinConfidence('w1', 0.6));
    store.dispatch(toggleLayer('w1', 'classifier-demo', false));
    props = panelProps(store, 'w1', mapState);
    expect(props.view.layers.map((l) => `${l.model}:${l.visible}:${l.shown}`)).toEqual(['classifier-demo:false:1', 'detector-demo:true:2']);
    expect(props.view.visibleItems.map((i) => i.label)).toEqual(['illustration', 'illustration']);

    const result = {
      id: `${BASE}/analyze/r1`,
      type: 'AnnotationPage',
      items: [{
        id: `${BASE}/annotations/new`, type: 'Annotation', motivation: 'tagging',
        creator: { type: 'Software', name: 'watermark-demo', version: '0.1' },
        body: { type: 'TextualBody', value: 'watermark', confidence: 0.97 },
        target: { source: CANVAS_ID, selector: { type: 'FragmentSelector', value: 'xywh=10,20,30,40' } },
      }],
    };
    store.dispatch(receiveAnnotation(CANVAS_ID, result.id, result));
    props = panelProps(store, 'w1', mapState);
    expect(props.view.layers.map((l) => l.model)).toEqual(['classifier-demo', 'detector-demo', 'watermark-demo']);
    expect(props.view.visibleItems.find((i) => i.model === 'watermark-demo').rect).toEqual({ x: 10, y: 20, w: 30, h: 40 });

    // Mirador's own annotation panel now lists the machine motivations too
    expect(store.getState().config.annotations.filteredMotivations).toEqual(expect.arrayContaining(['classifying', 'tagging']));
  });
});

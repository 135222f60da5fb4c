import { describe, expect, test } from 'vitest';
import {
  DEFAULT_WINDOW_STATE, makeViewSelector, pluginConfig, reducer, selectItem, setDrawing, setLabelQuery,
  setMinConfidence, setRegion, setReview, toggleLayer, windowState,
} from '../../src/state.js';
import { annotationsState, CANVAS } from './fixtures.js';

describe('reducer', () => {
  test('ignores other actions and actions without a window', () => {
    const state = {};
    expect(reducer(state, { type: 'mirador/ADD_WINDOW' })).toBe(state);
    expect(reducer(state, { type: 'annoserver/SET_LABEL_QUERY', value: 'x' })).toBe(state);
  });
  test('per-window filters, layers, selection, drawing, region, reviews', () => {
    let s = reducer(undefined, setMinConfidence('w1', 0.5));
    s = reducer(s, setMinConfidence('w2', 7));
    expect(s.w1.minConfidence).toBe(0.5);
    expect(s.w2.minConfidence).toBe(1);
    s = reducer(s, setLabelQuery('w1', 'ship'));
    s = reducer(s, toggleLayer('w1', 'det'));
    expect(s.w1.hidden).toEqual({ det: true });
    s = reducer(s, toggleLayer('w1', 'det'));
    expect(s.w1.hidden).toEqual({});
    s = reducer(s, toggleLayer('w1', 'det', false));
    expect(s.w1.hidden).toEqual({ det: true });
    s = reducer(s, selectItem('w1', 'a1'));
    s = reducer(s, setDrawing('w1', true));
    expect(s.w1.drawing).toBe(true);
    s = reducer(s, setRegion('w1', { canvasId: 'c', x: 1, y: 2, w: 3, h: 4 }));
    expect(s.w1).toMatchObject({ drawing: false, region: { x: 1 }, selectedId: 'a1', labelQuery: 'ship' });
    s = reducer(s, setReview('w1', 'a1', 'accepted'));
    expect(s.w1.reviews).toEqual({ a1: 'accepted' });
    expect(s.w2.labelQuery).toBe('');
  });
});

describe('config and view', () => {
  test('plugin config defaults; the server loses its trailing slash', () => {
    const config = pluginConfig({ annoserver: { server: 'https://a.example/', minConfidence: 0.3 } });
    expect(config).toMatchObject({ server: 'https://a.example', minConfidence: 0.3, tokenStorageKey: 'annoserver.token' });
    expect(pluginConfig(undefined).server).toBe('');
    expect(windowState({}, 'w', config).minConfidence).toBe(0.3);
    expect(windowState({ w: { ...DEFAULT_WINDOW_STATE, minConfidence: 0.6 } }, 'w', config).minConfidence).toBe(0.6);
  });
  test('the view selector filters and is memoised on its inputs', () => {
    const select = makeViewSelector();
    const config = pluginConfig({ annoserver: { minConfidence: 0.5 } });
    const annotations = annotationsState();
    const stored = DEFAULT_WINDOW_STATE;
    const view = select(annotations, [CANVAS], stored, config);
    expect(view.items).toHaveLength(6);
    expect(view.visibleItems).toHaveLength(4);
    expect(view.layers.map((l) => `${l.model}:${l.shown}/${l.total}`)).toEqual(['classifier-demo:1/2', 'detector-demo:3/4']);
    expect(select(annotations, [{ ...CANVAS }], stored, config)).toBe(view);
    const next = select(annotations, [CANVAS], reducer({}, setLabelQuery('w', 'stamp')).w, config);
    expect(next).not.toBe(view);
    expect(next.visibleItems).toHaveLength(0); // the stamp (0.31) is below 0.5
  });
});

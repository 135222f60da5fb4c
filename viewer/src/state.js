/**
 * The plugin's own Redux slice (`state.annoserver`), keyed by Mirador window id, and the
 * selectors that combine it with Mirador's annotations. Reducer and action creators are pure.
 */
import {
  assignColours, buildLayers, collectItems, filterItems, labelCounts,
} from './model.js';

export const SET_MIN_CONFIDENCE = 'annoserver/SET_MIN_CONFIDENCE';
export const SET_LABEL_QUERY = 'annoserver/SET_LABEL_QUERY';
export const TOGGLE_LAYER = 'annoserver/TOGGLE_LAYER';
export const SELECT_ITEM = 'annoserver/SELECT_ITEM';
export const SET_DRAWING = 'annoserver/SET_DRAWING';
export const SET_REGION = 'annoserver/SET_REGION';
export const SET_REVIEW = 'annoserver/SET_REVIEW';

export const DEFAULT_WINDOW_STATE = Object.freeze({
  minConfidence: null, // null: the configured default
  labelQuery: '',
  hidden: {},
  selectedId: null,
  drawing: false,
  region: null, // {canvasId, x, y, w, h} in canvas coordinates
  reviews: {}, // {annotationId: verdict} recorded in this session
});

export const setMinConfidence = (windowId, value) => ({ type: SET_MIN_CONFIDENCE, windowId, value });
export const setLabelQuery = (windowId, value) => ({ type: SET_LABEL_QUERY, windowId, value });
export const toggleLayer = (windowId, model, visible) => ({ type: TOGGLE_LAYER, windowId, model, visible });
export const selectItem = (windowId, id) => ({ type: SELECT_ITEM, windowId, id });
export const setDrawing = (windowId, value) => ({ type: SET_DRAWING, windowId, value });
export const setRegion = (windowId, region) => ({ type: SET_REGION, windowId, region });
export const setReview = (windowId, id, verdict) => ({ type: SET_REVIEW, windowId, id, verdict });

function updateWindow(state, windowId, update) {
  const current = state[windowId] || DEFAULT_WINDOW_STATE;
  return { ...state, [windowId]: { ...current, ...update(current) } };
}

export function reducer(state = {}, action = {}) {
  if (!action.type || !action.type.startsWith('annoserver/') || !action.windowId) return state;
  switch (action.type) {
    case SET_MIN_CONFIDENCE:
      return updateWindow(state, action.windowId, () => ({
        minConfidence: Math.min(1, Math.max(0, Number(action.value) || 0)),
      }));
    case SET_LABEL_QUERY:
      return updateWindow(state, action.windowId, () => ({ labelQuery: String(action.value || '') }));
    case TOGGLE_LAYER:
      return updateWindow(state, action.windowId, (w) => {
        const hidden = { ...w.hidden };
        const visible = action.visible === undefined ? Boolean(hidden[action.model]) : action.visible;
        if (visible) delete hidden[action.model]; else hidden[action.model] = true;
        return { hidden };
      });
    case SELECT_ITEM:
      return updateWindow(state, action.windowId, () => ({ selectedId: action.id || null }));
    case SET_DRAWING:
      return updateWindow(state, action.windowId, () => ({ drawing: Boolean(action.value) }));
    case SET_REGION:
      return updateWindow(state, action.windowId, () => ({ region: action.region || null, drawing: false }));
    case SET_REVIEW:
      return updateWindow(state, action.windowId, (w) => ({ reviews: { ...w.reviews, [action.id]: action.verdict } }));
    default:
      return state;
  }
}

/** The plugin settings from Mirador's config (`annoserver: {...}`) with defaults. */
let lastConfig = { input: undefined, output: undefined };
/** pluginConfig, memoised on the identity of Mirador's config object. */
export function pluginConfigCached(miradorConfig) {
  if (lastConfig.input !== miradorConfig || !lastConfig.output) {
    lastConfig = { input: miradorConfig, output: pluginConfig(miradorConfig) };
  }
  return lastConfig.output;
}

export function pluginConfig(miradorConfig) {
  const config = (miradorConfig && miradorConfig.annoserver) || {};
  const server = String(config.server || '').replace(/\/+$/, '');
  return {
    server,
    minConfidence: typeof config.minConfidence === 'number' ? config.minConfidence : 0,
    confidenceStep: config.confidenceStep || 0.05,
    colours: config.colours || config.colors || {},
    defaultModels: config.defaultModels || null,
    tokenStorageKey: config.tokenStorageKey || 'annoserver.token',
    showBadges: config.showBadges !== false,
    maxListed: config.maxListed || 200,
    jobPollMs: config.jobPollMs || 1500,
    similarK: Math.min(100, Math.max(1, Math.round(Number(config.similarK) || 20))),
  };
}

export function windowState(pluginState, windowId, config) {
  const w = (pluginState && pluginState[windowId]) || DEFAULT_WINDOW_STATE;
  return { ...w, minConfidence: w.minConfidence == null ? config.minConfidence : w.minConfidence };
}

// Colours stay with a model for the page's lifetime, whichever order models appear in.
let colourMemory = {};
export function coloursFor(models, overrides) {
  const next = assignColours(models, colourMemory, overrides);
  if (Object.keys(next).length !== Object.keys(colourMemory).length) colourMemory = next;
  return next;
}
export function resetColours() {
  colourMemory = {};
}

/**
 * Combine Mirador's annotations for the visible canvases with the window's filters.
 * Memoised on its inputs' identities (mapStateToProps runs on every store change).
 */
export function makeViewSelector() {
  let last = null;
  return function selectView(annotationsState, canvases, stored, config) {
    const canvasKey = canvases.map((c) => `${c.id}|${c.width}|${c.height}`).join('\n');
    if (last && last.annotationsState === annotationsState && last.canvasKey === canvasKey
      && last.stored === stored && last.config === config) {
      return last.view;
    }
    const w = windowState({ x: stored }, 'x', config);
    const items = collectItems(annotationsState, canvases);
    const filters = { minConfidence: w.minConfidence, labelQuery: w.labelQuery, hidden: w.hidden };
    const colours = coloursFor([...new Set(items.map((i) => i.model))].sort(), config.colours);
    const visibleItems = filterItems(items, filters);
    const view = {
      w,
      items,
      visibleItems,
      layers: buildLayers(items, filters, colours),
      labels: labelCounts(items),
      colours,
    };
    last = { annotationsState, canvasKey, stored, config, view };
    return view;
  };
}

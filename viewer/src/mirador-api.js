/**
 * Every import of Mirador lives in this module, so that a port to another Mirador major
 * version (Mirador 4 exports these from 'mirador' itself and uses React 18/19 + MUI 7) is a
 * change to this one file.
 */
import Mirador from 'mirador';
import CompanionWindow from 'mirador/dist/es/src/containers/CompanionWindow.js';
import createPluggableStore from 'mirador/dist/es/src/state/createPluggableStore.js';

const { actions, selectors } = Mirador;

export { Mirador, CompanionWindow };

/** Start a Mirador viewer (config, plugins). */
export const createViewer = (config, plugins) => Mirador.viewer(config, plugins);

/** Mirador's Redux store with plugins' reducers, sagas and config, but no viewer (for tests). */
export const createStore = (config, plugins) => createPluggableStore(config, plugins);

/** Store an AnnotationPage for a canvas, as if Mirador had fetched it. */
export const receiveAnnotation = (canvasId, pageId, page) => actions.receiveAnnotation(canvasId, pageId, page);

/** Open a manifest in a new window. */
export const addWindow = (manifestId) => actions.addWindow({ manifestId });

/** Show a canvas of a window's manifest (with its neighbour in book view, as Mirador groups them). */
export const setCanvas = (windowId, canvasId) => actions.setCanvas(windowId, canvasId);

/** Mirador's raw annotation store: {canvasId: {pageId: {json, isFetching, error}}}. */
export const getAnnotationsState = (state) => state.annotations || {};

/** Mirador's config (our settings live under `annoserver`). */
export const getConfig = (state) => selectors.getConfig(state);

export const getWindow = (state, windowId) => selectors.getWindow(state, { windowId });

function canvasLabel(canvas) {
  try {
    const label = canvas.getLabel && canvas.getLabel();
    // manifesto's PropertyValue extends Array: .map() on it throws, so read it with getValue()
    return (label && label.getValue && label.getValue()) || '';
  } catch (e) {
    return '';
  }
}

/**
 * The visible canvases of a window as plain objects: {id, width, height, label, json}.
 */
export function getVisibleCanvases(state, windowId) {
  let canvases = [];
  try {
    canvases = selectors.getVisibleCanvases(state, { windowId }) || [];
  } catch (e) {
    canvases = [];
  }
  return canvases.map((canvas) => ({
    id: canvas.id,
    width: canvas.getWidth(),
    height: canvas.getHeight(),
    label: canvasLabel(canvas),
    json: canvas.__jsonld, // eslint-disable-line no-underscore-dangle
  }));
}

const canvasLists = new WeakMap();
const NO_CANVASES = Object.freeze([]);
/**
 * Every canvas of a window's manifest, in order: [{id, label}]. The same array while
 * Mirador's canvases are the same (mapStateToProps calls this on every store change).
 */
export function getManifestCanvases(state, windowId) {
  let canvases;
  try {
    canvases = selectors.getCanvases(state, { windowId });
  } catch (e) {
    canvases = null;
  }
  if (!canvases || !canvases.length) return NO_CANVASES;
  if (!canvasLists.has(canvases)) {
    canvasLists.set(canvases, canvases.map((canvas) => ({ id: canvas.id, label: canvasLabel(canvas) })));
  }
  return canvasLists.get(canvases);
}

/**
 * The titles of the manifests Mirador holds (any window's): {url: title, id: title}, under
 * both the URL Mirador loaded and the manifest's own `id`.
 */
export function getManifestTitles(state) {
  const titles = {};
  Object.entries(state.manifests || {}).forEach(([url, entry]) => {
    if (!entry || !entry.json) return;
    let title = '';
    try {
      title = selectors.getManifestTitle(state, { manifestId: url }) || '';
    } catch (e) {
      title = '';
    }
    if (!title) return;
    titles[url] = title;
    const id = entry.json.id || entry.json['@id'];
    if (typeof id === 'string') titles[id] = title;
  });
  return titles;
}

/** The manifest of a window: {id (its `id`), url (what was loaded)}. */
export function getManifestInfo(state, windowId) {
  const window = selectors.getWindow(state, { windowId }) || {};
  let manifestoId = null;
  try {
    const manifest = selectors.getManifestoInstance(state, { windowId });
    manifestoId = manifest ? manifest.id : null;
  } catch (e) {
    manifestoId = null;
  }
  return { id: manifestoId || window.manifestId || null, url: window.manifestId || manifestoId || null };
}

/**
 * Where Mirador has placed the visible canvases in the OpenSeadragon world, from the
 * `canvasWorld` prop Mirador gives OpenSeadragonViewer plugins.
 */
export function canvasPlacements(canvasWorld) {
  if (!canvasWorld || !canvasWorld.canvasDimensions) return [];
  return canvasWorld.canvasDimensions.map((d) => ({
    canvasId: d.canvas.id,
    x: d.x,
    y: d.y,
    w: d.width,
    h: d.height,
    width: d.canvas.getWidth(),
    height: d.canvas.getHeight(),
  }));
}

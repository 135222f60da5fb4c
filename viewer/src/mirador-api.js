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

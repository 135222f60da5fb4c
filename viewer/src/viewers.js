/**
 * OpenSeadragon viewers and canvas placements by Mirador window id (not serialisable, so kept
 * out of Redux). The overlay registers them; the panel reads the current viewport from them.
 */
import { elementToWorldRect, placementAt, worldToCanvasRect, clampRect } from './model.js';

const entries = new Map();

export function registerViewer(windowId, viewer, placements) {
  if (viewer) entries.set(windowId, { viewer, placements: placements || [] });
  else entries.delete(windowId);
}

export function getViewerEntry(windowId) {
  return entries.get(windowId) || null;
}

/** The viewport's bounds and the container size, or null while OpenSeadragon is not ready. */
export function viewportGeometry(viewer) {
  if (!viewer || !viewer.viewport) return null;
  const bounds = viewer.viewport.getBounds(true);
  const container = viewer.viewport.getContainerSize();
  if (!bounds || !container || !container.x || !container.y || !bounds.width || !bounds.height) return null;
  return { bounds, container };
}

/**
 * The part of a canvas now in view, in canvas coordinates: {canvasId, x, y, w, h}.
 * `canvasId` picks the canvas (else the one nearest the viewport's centre).
 */
export function currentViewRegion(windowId, canvasId) {
  const entry = getViewerEntry(windowId);
  if (!entry) return null;
  const geometry = viewportGeometry(entry.viewer);
  if (!geometry) return null;
  const world = elementToWorldRect(geometry.bounds, geometry.container,
    { x: 0, y: 0, w: geometry.container.x, h: geometry.container.y });
  const placement = (canvasId && entry.placements.find((p) => p.canvasId === canvasId))
    || placementAt(entry.placements, { x: world.x + world.w / 2, y: world.y + world.h / 2 });
  if (!placement) return null;
  const rect = clampRect(worldToCanvasRect(placement, world), placement.width, placement.height);
  if (!rect) return null;
  return { canvasId: placement.canvasId, ...rect };
}

/** Zoom the viewer to a canvas rectangle (with a margin). */
export function zoomToCanvasRect(windowId, canvasId, rect) {
  const entry = getViewerEntry(windowId);
  if (!entry || !rect) return;
  const placement = entry.placements.find((p) => p.canvasId === canvasId);
  if (!placement) return;
  const sx = placement.w / placement.width;
  const sy = placement.h / placement.height;
  const margin = 0.25;
  const x = placement.x + (rect.x - rect.w * margin) * sx;
  const y = placement.y + (rect.y - rect.h * margin) * sy;
  const Rect = entry.viewer.viewport.getBounds().constructor; // OpenSeadragon.Rect, without importing it
  entry.viewer.viewport.fitBoundsWithConstraints(new Rect(x, y, rect.w * (1 + 2 * margin) * sx, rect.h * (1 + 2 * margin) * sy));
}

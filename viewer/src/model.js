/**
 * Pure functions over machine annotations: no React, no Mirador, no DOM.
 *
 * Input: W3C / IIIF annotations as the server publishes them (AnnotationPages of an enriched
 * Presentation 3 manifest, or the AnnotationPage returned by POST /analyze).
 * Output: plain records ("items") that the panel lists and the overlay draws.
 */

export const PALETTE = ['#E69F00', '#56B4E9', '#009E73', '#F0E442', '#0072B2', '#D55E00', '#CC79A7'];

const asList = (value) => (value == null ? [] : Array.isArray(value) ? value : [value]);

/** The IRI of a resource given as a string or as an object with `id`/`@id`. */
export function iriOf(value) {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const found = value.id || value['@id'];
    return typeof found === 'string' ? found : null;
  }
  return null;
}

/** Parse a language map / string / array label into one string. */
export function labelText(label) {
  if (label == null) return null;
  if (typeof label === 'string') return label;
  if (Array.isArray(label)) return label.map(labelText).filter(Boolean).join(', ') || null;
  if (typeof label === 'object') {
    if ('@value' in label) return String(label['@value']);
    const values = label.en || label.none || Object.values(label)[0];
    return labelText(values);
  }
  return String(label);
}

/**
 * Parse a media-fragment `xywh=` value (with or without `#`, `pixel:` or `percent:`).
 * Percent values need the canvas size. Returns {x, y, w, h} (numbers) or null.
 */
export function parseXywh(value, size) {
  if (typeof value !== 'string') return null;
  const match = /(?:^|[#&?])?xywh=(?:(pixel|percent):)?\s*([-\d.]+),([-\d.]+),([-\d.]+),([-\d.]+)/.exec(value);
  if (!match) return null;
  let [x, y, w, h] = match.slice(2).map(Number);
  if ([x, y, w, h].some((n) => !Number.isFinite(n)) || w <= 0 || h <= 0) return null;
  if (match[1] === 'percent') {
    if (!size || !size.width || !size.height) return null;
    x = (x / 100) * size.width;
    w = (w / 100) * size.width;
    y = (y / 100) * size.height;
    h = (h / 100) * size.height;
  }
  return { x, y, w, h };
}

/** Format a rectangle as the IIIF/media-fragment `x,y,w,h` string of integers. */
export function formatXywh(rect) {
  return [rect.x, rect.y, rect.w, rect.h].map((n) => Math.round(n)).join(',');
}

/**
 * The target of an annotation: {source, rect} where rect is null for a whole-resource target.
 * Handles a bare IRI (with `#xywh=`), a SpecificResource with a FragmentSelector (or a list
 * of selectors), and a list of targets (the first is used).
 */
export function parseTarget(target, size) {
  const first = asList(target)[0];
  if (!first) return { source: null, rect: null };
  if (typeof first === 'string') {
    const [source, fragment] = first.split('#');
    return { source, rect: fragment ? parseXywh(fragment, size) : null };
  }
  const rawSource = first.source !== undefined ? first.source : first;
  const sourceIri = iriOf(rawSource) || iriOf(first.full) || null;
  let rect = null;
  for (const selector of asList(first.selector || (first.on && first.on.selector))) {
    if (!selector || typeof selector !== 'object') continue;
    const type = selector.type || selector['@type'];
    if (/FragmentSelector$/.test(type || '') || typeof selector.value === 'string') {
      rect = parseXywh(selector.value, size);
      if (rect) break;
    }
  }
  if (!rect && sourceIri && sourceIri.includes('#')) {
    rect = parseXywh(sourceIri.split('#')[1], size);
  }
  return { source: sourceIri ? sourceIri.split('#')[0] : null, rect };
}

function isNumber(value) {
  return typeof value === 'number' && Number.isFinite(value);
}

/** The annotation's own confidence, else the highest of its bodies' (as the server indexes it). */
export function confidenceOf(annotation) {
  const candidates = [annotation.confidence, annotation['annoserver:confidence']];
  for (const body of asList(annotation.body || annotation.resource)) {
    if (body && typeof body === 'object') candidates.push(body.confidence, body['annoserver:confidence']);
  }
  const numbers = candidates.filter(isNumber);
  return numbers.length ? Math.max(...numbers) : null;
}

/** Text labels of the annotation's bodies (TextualBody values, `label`s, chars of v2). */
export function labelsOf(annotation) {
  const labels = [];
  for (const body of asList(annotation.body || annotation.resource)) {
    if (typeof body === 'string') continue; // an IRI body (e.g. a vocabulary term) has no text here
    if (!body || typeof body !== 'object') continue;
    if (body.type === 'Image' || body.type === 'dctypes:Image') continue;
    const text = typeof body.value === 'string' ? body.value
      : typeof body.chars === 'string' ? body.chars
        : labelText(body.label);
    if (text) labels.push(text);
  }
  return labels;
}

/** The first Software agent of `creator`/`generator`: {name, version} or null. */
export function softwareOf(annotation) {
  const agents = [...asList(annotation.creator), ...asList(annotation.generator)];
  for (const agent of agents) {
    if (typeof agent === 'string') return { name: agent, version: null, agent: { id: agent } };
    if (agent && typeof agent === 'object') {
      const name = agent.name || labelText(agent.label) || agent.id || agent['@id'];
      if (typeof name === 'string') {
        const version = agent.version || agent.modelVersion || agent.softwareVersion
          || annotation.modelVersion || null;
        return { name, version: version == null ? null : String(version), agent };
      }
    }
  }
  return null;
}

/** "detector-x annotations" → "detector-x" (the enriched manifest's page labels). */
export function modelFromPageLabel(label) {
  const text = labelText(label);
  if (!text) return null;
  return text.replace(/\s+annotations?$/i, '').trim() || null;
}

/** The review verdict recorded on an annotation, in any of the shapes a server may give it. */
export function reviewOf(annotation) {
  const raw = annotation.review || annotation['annoserver:review'] || annotation.reviewStatus;
  const verdict = typeof raw === 'string' ? raw : raw && (raw.verdict || raw.status || raw.value);
  return typeof verdict === 'string' ? verdict : null;
}

/**
 * Normalise one annotation into an item.
 * @param {object} annotation a W3C / IIIF annotation
 * @param {object} context {pageId, pageLabel, canvasId, canvasSize: {width, height}}
 */
export function normaliseAnnotation(annotation, context = {}) {
  const software = softwareOf(annotation);
  const target = parseTarget(annotation.target || annotation.on, context.canvasSize);
  const labels = labelsOf(annotation);
  const isMachine = Boolean(software && (!software.agent.type || /Software/.test(software.agent.type)))
    || Boolean(context.pageLabel && modelFromPageLabel(context.pageLabel));
  const model = (software && software.name) || modelFromPageLabel(context.pageLabel) || 'unknown';
  return {
    id: iriOf(annotation) || `${context.pageId || 'page'}#${context.index || 0}`,
    model,
    version: software ? software.version : null,
    machine: isMachine,
    labels,
    label: labels[0] || asList(annotation.motivation)[0] || 'annotation',
    confidence: confidenceOf(annotation),
    motivation: asList(annotation.motivation).join(', ') || null,
    created: annotation.created || null,
    review: reviewOf(annotation),
    canvasId: target.source || context.canvasId || null,
    rect: target.rect,
    whole: !target.rect,
    pageId: context.pageId || null,
    raw: annotation,
  };
}

/** The annotations of a page: v3 `items`, v2 `resources`, or a single annotation. */
export function pageItems(page) {
  if (!page || typeof page !== 'object') return [];
  if (Array.isArray(page.items)) return page.items;
  if (Array.isArray(page.resources)) return page.resources;
  if (page.first && typeof page.first === 'object' && Array.isArray(page.first.items)) return page.first.items;
  if ((page.type || page['@type']) === 'Annotation' || page['@type'] === 'oa:Annotation') return [page];
  return [];
}

/**
 * Collect items from Mirador's `state.annotations` for the given canvases.
 * @param {object} annotationsState {canvasId: {pageId: {json, isFetching, error}}}
 * @param {Array<{id, width, height}>} canvases the visible canvases
 */
export function collectItems(annotationsState, canvases) {
  const items = [];
  const seen = new Set();
  for (const canvas of canvases) {
    const pages = (annotationsState && annotationsState[canvas.id]) || {};
    for (const [pageId, entry] of Object.entries(pages)) {
      const json = entry && entry.json;
      if (!json) continue;
      pageItems(json).forEach((annotation, index) => {
        const item = normaliseAnnotation(annotation, {
          pageId, pageLabel: json.label, canvasId: canvas.id, canvasSize: canvas, index,
        });
        if (item.canvasId !== canvas.id) return; // a page may hold annotations of other canvases
        if (seen.has(item.id)) return;
        seen.add(item.id);
        items.push(item);
      });
    }
  }
  return items;
}

/** Case-insensitive label filter: every word of the query must occur in one of the labels. */
export function matchesLabel(item, query) {
  const words = String(query || '').toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return true;
  const haystack = [...item.labels, item.label].join(' \u0000 ').toLowerCase();
  return words.every((word) => haystack.includes(word));
}

/** An item passes the threshold when its confidence is at least `min` (no confidence passes). */
export function passesConfidence(item, min) {
  if (!min) return true;
  return item.confidence == null || item.confidence >= min - 1e-9;
}

/**
 * Filter items by confidence, label and hidden layers.
 * @param {object} filters {minConfidence, labelQuery, hidden: {model: true}}
 */
export function filterItems(items, filters = {}) {
  const hidden = filters.hidden || {};
  return items.filter((item) => !hidden[item.model]
    && passesConfidence(item, filters.minConfidence)
    && matchesLabel(item, filters.labelQuery));
}

/** A small, stable string hash (FNV-1a). */
export function hashString(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Assign a colour to each model. Each model prefers the palette colour its name hashes to (so
 * a model keeps its colour across pages and sessions), taking the next free one when that is
 * used; beyond the palette, golden-angle hues. Existing assignments are kept (colours do not
 * jump when a new model appears after an analysis). Overrides (from the config) win.
 */
export function assignColours(models, existing = {}, overrides = {}) {
  const result = { ...existing };
  const used = new Set(Object.values(result));
  let extra = 0;
  for (const model of models) {
    if (overrides[model]) {
      result[model] = overrides[model];
      used.add(overrides[model]);
      continue;
    }
    if (result[model]) continue;
    const start = hashString(model) % PALETTE.length;
    let colour = null;
    for (let i = 0; i < PALETTE.length && !colour; i += 1) {
      const candidate = PALETTE[(start + i) % PALETTE.length];
      if (!used.has(candidate)) colour = candidate;
    }
    while (!colour) {
      const candidate = `hsl(${Math.round((hashString(model) + extra * 137.508) % 360)}, 70%, 45%)`;
      extra += 1;
      if (!used.has(candidate)) colour = candidate;
    }
    result[model] = colour;
    used.add(colour);
  }
  return result;
}

/**
 * Layers: one per model, with counts before and after filtering.
 * @returns {Array<{model, versions, colour, total, shown, regions, whole, visible}>}
 */
export function buildLayers(items, filters = {}, colours = {}) {
  const hidden = filters.hidden || {};
  const byModel = new Map();
  for (const item of items) {
    if (!byModel.has(item.model)) {
      byModel.set(item.model, {
        model: item.model, versions: [], colour: colours[item.model] || '#888888',
        total: 0, shown: 0, regions: 0, whole: 0, visible: !hidden[item.model], machine: false,
      });
    }
    const layer = byModel.get(item.model);
    layer.total += 1;
    layer.machine = layer.machine || item.machine;
    if (item.version && !layer.versions.includes(item.version)) layer.versions.push(item.version);
    if (passesConfidence(item, filters.minConfidence) && matchesLabel(item, filters.labelQuery)) {
      layer.shown += 1;
      if (item.whole) layer.whole += 1; else layer.regions += 1;
    }
  }
  return [...byModel.values()].sort((a, b) => a.model.localeCompare(b.model));
}

/** Distinct labels with their counts, most frequent first (for the label filter's suggestions). */
export function labelCounts(items) {
  const counts = new Map();
  for (const item of items) {
    for (const label of new Set(item.labels)) counts.set(label, (counts.get(label) || 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([label, count]) => ({ label, count }));
}

/** "0.87" (two decimals) or an empty string when the confidence is unknown. */
export function formatConfidence(confidence) {
  return confidence == null ? '' : Number(confidence).toFixed(2);
}

/** The human review status of an item. */
export function reviewStatusText(item, localReview) {
  const verdict = localReview || item.review;
  if (verdict === 'accepted') return 'accepted by a reviewer';
  if (verdict === 'rejected') return 'rejected by a reviewer';
  if (verdict === 'corrected') return 'corrected by a reviewer';
  if (verdict) return `reviewed: ${verdict}`;
  return item.machine ? 'machine-generated, not verified' : 'not machine-generated';
}

// ---------------------------------------------------------------------------------------------
// Canvas / image / viewport geometry

/**
 * The image behind a canvas (first painting annotation's body): {image, width, height, service}
 * where `image` is the image service id when there is one (what POST /analyze wants), else
 * the image URL. Works for Presentation 3 and 2 canvases.
 */
export function canvasImage(canvasJson) {
  if (!canvasJson) return null;
  let body = null;
  const page = asList(canvasJson.items)[0];
  const anno = page && asList(page.items)[0];
  if (anno) body = asList(anno.body)[0];
  if (!body) {
    const image = asList(canvasJson.images)[0];
    body = image && image.resource;
  }
  if (!body) return null;
  if ((body.type === 'Choice' || body['@type'] === 'oa:Choice')) body = asList(body.items || body.default)[0] || body;
  const service = asList(body.service)[0];
  const serviceId = iriOf(service);
  return {
    image: serviceId ? serviceId.replace(/\/info\.json$/, '') : iriOf(body),
    service: serviceId || null,
    width: body.width || null,
    height: body.height || null,
  };
}

/** Clamp a rectangle to [0, width] x [0, height]; null when nothing is left. */
export function clampRect(rect, width, height) {
  const x0 = Math.max(0, Math.min(rect.x, rect.x + rect.w));
  const y0 = Math.max(0, Math.min(rect.y, rect.y + rect.h));
  const x1 = Math.min(width, Math.max(rect.x, rect.x + rect.w));
  const y1 = Math.min(height, Math.max(rect.y, rect.y + rect.h));
  if (x1 - x0 < 1 || y1 - y0 < 1) return null;
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

/** Integer rectangle (floor the origin, ceil the far corner) so the region covers the drawing. */
export function integerRect(rect) {
  const x = Math.floor(rect.x);
  const y = Math.floor(rect.y);
  return { x, y, w: Math.ceil(rect.x + rect.w) - x, h: Math.ceil(rect.y + rect.h) - y };
}

/**
 * A canvas rectangle as the IIIF region string of the image (image pixels), scaled when the
 * image is not the canvas size, clamped to the image.
 */
export function canvasRectToImageRegion(rect, canvasSize, imageSize) {
  const iw = (imageSize && imageSize.width) || canvasSize.width;
  const ih = (imageSize && imageSize.height) || canvasSize.height;
  const sx = iw / canvasSize.width;
  const sy = ih / canvasSize.height;
  const scaled = { x: rect.x * sx, y: rect.y * sy, w: rect.w * sx, h: rect.h * sy };
  const clamped = clampRect(scaled, iw, ih);
  if (!clamped) return null;
  const r = integerRect(clamped);
  return formatXywh({ x: r.x, y: r.y, w: Math.min(r.w, iw - r.x), h: Math.min(r.h, ih - r.y) });
}

/**
 * The IIIF region, on the super-resolved image, of a canvas rectangle (null: the whole image).
 * With the model's `scale` it is in the enhanced image's pixels; without it, a percentage
 * region, which is the same on the original and on any enlargement of it.
 */
export function superresRegion(rect, canvasSize, imageSize, scale) {
  const pixels = rect && canvasRectToImageRegion(rect, canvasSize, imageSize);
  if (!pixels) return 'full';
  const values = pixels.split(',').map(Number);
  if (Number(scale) > 0) return values.map((n) => Math.round(n * Number(scale))).join(',');
  const iw = (imageSize && imageSize.width) || canvasSize.width;
  const ih = (imageSize && imageSize.height) || canvasSize.height;
  const [x, y, w, h] = values;
  return `pct:${[x / iw, y / ih, w / iw, h / ih].map((n) => +(n * 100).toFixed(3)).join(',')}`;
}

/**
 * World placement of canvases (Mirador lays canvases side by side, scaled to a common height):
 * each entry {canvasId, x, y, w, h (world), width, height (canvas)}.
 */
export function canvasToWorldRect(placement, rect) {
  const sx = placement.w / placement.width;
  const sy = placement.h / placement.height;
  return { x: placement.x + rect.x * sx, y: placement.y + rect.y * sy, w: rect.w * sx, h: rect.h * sy };
}

export function worldToCanvasRect(placement, rect) {
  const sx = placement.width / placement.w;
  const sy = placement.height / placement.h;
  return { x: (rect.x - placement.x) * sx, y: (rect.y - placement.y) * sy, w: rect.w * sx, h: rect.h * sy };
}

/**
 * Viewport (world) ↔ element pixels, given the viewport's current bounds {x, y, width, height}
 * and the container size {x, y} (OpenSeadragon's getBounds(true) / getContainerSize()).
 */
export function worldToElementRect(bounds, container, rect) {
  const sx = container.x / bounds.width;
  const sy = container.y / bounds.height;
  return { x: (rect.x - bounds.x) * sx, y: (rect.y - bounds.y) * sy, w: rect.w * sx, h: rect.h * sy };
}

export function elementToWorldRect(bounds, container, rect) {
  const sx = bounds.width / container.x;
  const sy = bounds.height / container.y;
  return { x: bounds.x + rect.x * sx, y: bounds.y + rect.y * sy, w: rect.w * sx, h: rect.h * sy };
}

/** Normalise a drag (two corners, any direction) into {x, y, w, h}. */
export function rectFromPoints(a, b) {
  return { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), w: Math.abs(a.x - b.x), h: Math.abs(a.y - b.y) };
}

/** The placement whose world rectangle contains the point, else the nearest. */
export function placementAt(placements, point) {
  let best = null;
  let bestDistance = Infinity;
  for (const p of placements) {
    const dx = Math.max(p.x - point.x, 0, point.x - (p.x + p.w));
    const dy = Math.max(p.y - point.y, 0, point.y - (p.y + p.h));
    const distance = Math.hypot(dx, dy);
    if (distance < bestDistance) {
      best = p;
      bestDistance = distance;
    }
  }
  return best;
}

/** Unpadded base64url of a string (the super-resolution façade's `{upstream}` segment). */
export function base64url(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  bytes.forEach((b) => { binary += String.fromCharCode(b); });
  const b64 = typeof btoa === 'function' ? btoa(binary) : Buffer.from(binary, 'binary').toString('base64');
  return b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The list of models of GET /models, whatever its envelope. */
export function modelList(json) {
  const list = Array.isArray(json) ? json
    : asList(json && (json.models || json.items || json.data));
  return list.filter((m) => m && typeof m === 'object' && (m.id || m.name))
    .map((m) => ({ ...m, id: m.id || m.name }));
}

/** Models that POST /analyze can turn into annotations to draw (not embeddings or
 * super-resolution, which make vectors and images). */
export function analysableModels(models) {
  return models.filter((m) => !/embedding|superres|super-res/i.test(m.kind || ''));
}

/** Models that store embeddings (`kind` embedding, or `embedding` among the kinds they serve). */
export function embeddingModels(models) {
  return models.filter((m) => /embedding/i.test(m.kind || '')
    || (Array.isArray(m.kinds) && m.kinds.some((k) => /embedding/i.test(k))));
}

/** A cosine similarity for people: three decimals. */
export function formatScore(score) {
  return typeof score === 'number' && Number.isFinite(score) ? score.toFixed(3) : '—';
}

/** The end of an IRI's path, for a resource that has no label here. */
export function shortIri(iri) {
  if (typeof iri !== 'string') return '';
  const path = iri.replace(/[?#].*$/, '').replace(/\/+$/, '');
  const parts = path.split('/');
  return parts.length > 4 ? `…/${parts.slice(-2).join('/')}` : path;
}

/**
 * The rows of a GET /similar answer, best first: each item with `here` (its canvas is in the
 * open manifest, so choosing it navigates), the canvas's label (known for canvases here) and
 * the manifest's title (when Mirador holds that manifest), else a short form of their IRIs.
 * @param {object} response the /similar JSON
 * @param {Array<{id, label}>} manifestCanvases every canvas of the open manifest
 * @param {object} manifestTitles {manifest url or id: title}
 */
export function similarRows(response, manifestCanvases = [], manifestTitles = {}) {
  const labels = new Map(manifestCanvases.map((c) => [c.id, c.label]));
  return asList(response && response.items).filter((item) => item && typeof item.canvas === 'string')
    .map((item, rank) => {
      const here = labels.has(item.canvas);
      const region = item.region && item.region !== 'full' ? item.region : null;
      return {
        key: `${item.canvas}|${item.region || 'full'}|${rank}`,
        rank: rank + 1,
        canvas: item.canvas,
        manifest: typeof item.manifest === 'string' ? item.manifest : null,
        region,
        score: item.score,
        thumbnail: typeof item.thumbnail === 'string' ? item.thumbnail : null,
        here,
        canvasLabel: (here && labels.get(item.canvas)) || shortIri(item.canvas),
        manifestLabel: here ? 'this manifest'
          : (item.manifest && (manifestTitles[item.manifest] || shortIri(item.manifest))) || 'no manifest recorded',
      };
    });
}

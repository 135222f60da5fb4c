import { describe, expect, test } from 'vitest';
import {
  assignColours, buildLayers, canvasImage, canvasRectToImageRegion, canvasToWorldRect, clampRect,
  collectItems, confidenceOf, elementToWorldRect, filterItems, formatXywh, labelCounts, labelsOf,
  modelFromPageLabel, modelList, analysableModels, normaliseAnnotation, parseTarget, parseXywh, PALETTE,
  placementAt, rectFromPoints, reviewStatusText, softwareOf, worldToCanvasRect, worldToElementRect, base64url,
  superresRegion, embeddingModels, formatScore, shortIri, similarRows,
} from '../../src/model.js';
import { annotationsState, CANVAS, CANVAS_ID, fixture, BASE } from './fixtures.js';

describe('xywh parsing', () => {
  test('plain, pixel:, with #, and percent: (needs the canvas size)', () => {
    expect(parseXywh('xywh=10,20,30,40')).toEqual({ x: 10, y: 20, w: 30, h: 40 });
    expect(parseXywh('#xywh=pixel:1,2,3,4')).toEqual({ x: 1, y: 2, w: 3, h: 4 });
    expect(parseXywh('xywh=1.5,2,3,4')).toEqual({ x: 1.5, y: 2, w: 3, h: 4 });
    expect(parseXywh('xywh=percent:10,10,50,50', { width: 2000, height: 1000 })).toEqual({ x: 200, y: 100, w: 1000, h: 500 });
    expect(parseXywh('xywh=percent:10,10,50,50')).toBeNull();
  });
  test('rejects garbage and empty rectangles', () => {
    expect(parseXywh('t=10,20')).toBeNull();
    expect(parseXywh('xywh=1,2,0,4')).toBeNull();
    expect(parseXywh('xywh=a,b,c,d')).toBeNull();
    expect(parseXywh(null)).toBeNull();
  });
  test('formatXywh rounds to integers (Mirador 3 draws only integer xywh)', () => {
    expect(formatXywh({ x: 1.4, y: 2.6, w: 10.5, h: 3 })).toBe('1,3,11,3');
  });
});

describe('targets', () => {
  test('bare IRI with and without a fragment', () => {
    expect(parseTarget('https://x/c1#xywh=1,2,3,4')).toEqual({ source: 'https://x/c1', rect: { x: 1, y: 2, w: 3, h: 4 } });
    expect(parseTarget('https://x/c1')).toEqual({ source: 'https://x/c1', rect: null });
  });
  test('SpecificResource with a FragmentSelector, a selector list, a source object', () => {
    const target = {
      type: 'SpecificResource',
      source: { id: 'https://x/c1', type: 'Canvas', partOf: [{ id: 'https://x/m', type: 'Manifest' }] },
      selector: [{ type: 'PointSelector', x: 1, y: 1 }, { type: 'FragmentSelector', value: 'xywh=5,6,7,8' }],
    };
    expect(parseTarget(target)).toEqual({ source: 'https://x/c1', rect: { x: 5, y: 6, w: 7, h: 8 } });
    expect(parseTarget([{ source: 'https://x/c2' }])).toEqual({ source: 'https://x/c2', rect: null });
  });
});

describe('annotation fields', () => {
  test('confidence: the annotation own, else the highest body confidence', () => {
    expect(confidenceOf({ confidence: 0.4, body: [{ confidence: 0.9 }] })).toBe(0.9);
    expect(confidenceOf({ confidence: 0.4 })).toBe(0.4);
    expect(confidenceOf({ body: [{ confidence: 0.2 }, { confidence: 0.7 }] })).toBe(0.7);
    expect(confidenceOf({ body: { value: 'x' } })).toBeNull();
  });
  test('labels from TextualBody values, v2 chars and labels; images ignored', () => {
    expect(labelsOf({ body: [{ type: 'TextualBody', value: 'ship' }, { type: 'Image', id: 'x' }] })).toEqual(['ship']);
    expect(labelsOf({ resource: { chars: 'v2 text' } })).toEqual(['v2 text']);
    expect(labelsOf({ body: { label: { en: ['map'] } } })).toEqual(['map']);
  });
  test('software creator with version; page label fallback', () => {
    expect(softwareOf({ creator: { type: 'Software', name: 'det', version: '2' } })).toMatchObject({ name: 'det', version: '2' });
    expect(softwareOf({ generator: [{ type: 'Software', id: 'https://x/models/cls' }] })).toMatchObject({ name: 'https://x/models/cls' });
    expect(modelFromPageLabel({ en: ['detector-x annotations'] })).toBe('detector-x');
    const item = normaliseAnnotation({ id: 'a', target: 'c#xywh=1,2,3,4' }, { pageLabel: { en: ['cls annotations'] } });
    expect(item).toMatchObject({ model: 'cls', machine: true, canvasId: 'c', whole: false });
  });
  test('review status text', () => {
    const item = normaliseAnnotation({ id: 'a', creator: { type: 'Software', name: 'm' }, target: 'c' });
    expect(reviewStatusText(item)).toBe('machine-generated, not verified');
    expect(reviewStatusText(item, 'accepted')).toBe('accepted by a reviewer');
    expect(reviewStatusText({ ...item, review: 'rejected' })).toBe('rejected by a reviewer');
    expect(reviewStatusText(normaliseAnnotation({ id: 'b', creator: { type: 'Person', name: 'Ann' }, target: 'c' })))
      .toBe('not machine-generated');
  });
});

describe('layers from the enriched manifest pages', () => {
  const items = collectItems(annotationsState(), [CANVAS]);

  test('one item per annotation, regions and whole-canvas results apart', () => {
    expect(items).toHaveLength(6);
    const stamp = items.find((i) => i.label === 'stamp');
    expect(stamp).toMatchObject({
      model: 'detector-demo', version: '1.2.0', confidence: 0.31, canvasId: CANVAS_ID,
      rect: { x: 1650, y: 1230, w: 180, h: 180 }, whole: false, machine: true, motivation: 'tagging',
    });
    expect(items.filter((i) => i.whole).map((i) => i.label)).toEqual(['printed book', 'manuscript']);
  });

  test('annotations of other canvases are left out', () => {
    expect(collectItems(annotationsState(), [{ id: 'https://other/canvas', width: 1, height: 1 }])).toEqual([]);
  });

  test('layers count what passes the filters', () => {
    const colours = assignColours(['classifier-demo', 'detector-demo']);
    expect(buildLayers(items, {}, colours).map((l) => [l.model, l.shown, l.total, l.regions, l.whole])).toEqual([
      ['classifier-demo', 2, 2, 0, 2], ['detector-demo', 4, 4, 4, 0],
    ]);
    const at50 = buildLayers(items, { minConfidence: 0.5 }, colours);
    expect(at50.map((l) => [l.model, l.shown])).toEqual([['classifier-demo', 1], ['detector-demo', 3]]);
    expect(at50[1]).toMatchObject({ versions: ['1.2.0'], colour: colours['detector-demo'], visible: true });
    const hidden = buildLayers(items, { hidden: { 'detector-demo': true } }, colours);
    expect(hidden[1].visible).toBe(false);
  });

  test('filters: confidence threshold (inclusive), label words, hidden layers', () => {
    expect(filterItems(items, { minConfidence: 0.55 }).map((i) => i.confidence).sort()).toEqual([0.55, 0.81, 0.88, 0.92]);
    expect(filterItems(items, { labelQuery: 'ILLUS' })).toHaveLength(2);
    expect(filterItems(items, { labelQuery: 'printed book' })).toHaveLength(1);
    expect(filterItems(items, { hidden: { 'classifier-demo': true } })).toHaveLength(4);
    expect(filterItems(items, { minConfidence: 1 })).toHaveLength(0);
    const noScore = normaliseAnnotation({ id: 'n', target: `${CANVAS_ID}#xywh=1,1,2,2` });
    expect(filterItems([noScore], { minConfidence: 0.9 })).toHaveLength(1);
  });

  test('label counts for suggestions', () => {
    expect(labelCounts(items)[0]).toEqual({ label: 'illustration', count: 2 });
  });
});

describe('colours', () => {
  test('stable, distinct, kept when new models arrive, overridable', () => {
    const first = assignColours(['a', 'b']);
    expect(new Set(Object.values(first)).size).toBe(2);
    expect(assignColours(['b', 'a'])).toEqual(first); // order does not matter
    const more = assignColours(['a', 'b', 'c'], first);
    expect(more.a).toBe(first.a);
    expect(more.b).toBe(first.b);
    expect(Object.values(more).every((c) => PALETTE.includes(c))).toBe(true);
    expect(assignColours(['a'], {}, { a: '#123456' }).a).toBe('#123456');
  });
  test('beyond the palette, still distinct', () => {
    const models = Array.from({ length: 20 }, (_, i) => `model-${i}`);
    expect(new Set(Object.values(assignColours(models))).size).toBe(20);
  });
});

describe('geometry', () => {
  test('canvas rectangle to image region: scaled, clamped, integers', () => {
    const image = { width: 1000, height: 750 };
    expect(canvasRectToImageRegion({ x: 100, y: 200, w: 400, h: 300 }, CANVAS, image)).toBe('50,100,200,150');
    expect(canvasRectToImageRegion({ x: 1900, y: 1400, w: 400, h: 300 }, CANVAS, image)).toBe('950,700,50,50');
    expect(canvasRectToImageRegion({ x: 3, y: 3, w: 5, h: 5 }, CANVAS, image)).toBe('1,1,3,3');
    expect(canvasRectToImageRegion({ x: 3000, y: 0, w: 10, h: 10 }, CANVAS, image)).toBeNull();
    expect(canvasRectToImageRegion({ x: 10, y: 10, w: 20, h: 20 }, CANVAS, {})).toBe('10,10,20,20');
  });
  test('world/element/canvas round trips', () => {
    const placement = { canvasId: 'c', x: 100, y: 0, w: 1000, h: 750, width: 2000, height: 1500 };
    const rect = { x: 200, y: 300, w: 400, h: 200 };
    const world = canvasToWorldRect(placement, rect);
    expect(world).toEqual({ x: 200, y: 150, w: 200, h: 100 });
    expect(worldToCanvasRect(placement, world)).toEqual(rect);
    const bounds = { x: 0, y: 0, width: 1100, height: 825 };
    const container = { x: 550, y: 412.5 };
    const element = worldToElementRect(bounds, container, world);
    expect(element).toEqual({ x: 100, y: 75, w: 100, h: 50 });
    expect(elementToWorldRect(bounds, container, element)).toEqual(world);
  });
  test('drags in any direction; clamping; picking the canvas', () => {
    expect(rectFromPoints({ x: 10, y: 50 }, { x: 0, y: 20 })).toEqual({ x: 0, y: 20, w: 10, h: 30 });
    expect(clampRect({ x: -10, y: -10, w: 30, h: 30 }, 100, 100)).toEqual({ x: 0, y: 0, w: 20, h: 20 });
    expect(clampRect({ x: 200, y: 0, w: 30, h: 30 }, 100, 100)).toBeNull();
    const placements = [{ canvasId: 'a', x: 0, y: 0, w: 100, h: 100 }, { canvasId: 'b', x: 100, y: 0, w: 100, h: 100 }];
    expect(placementAt(placements, { x: 150, y: 50 }).canvasId).toBe('b');
    expect(placementAt(placements, { x: 500, y: 50 }).canvasId).toBe('b');
  });
  test('the image behind a canvas: v3 service, v2 service, static image', () => {
    const manifest = fixture('manifest.json');
    expect(canvasImage(manifest.items[0])).toEqual({
      image: `${BASE}/iiif/page1`, service: `${BASE}/iiif/page1`, width: 1000, height: 750,
    });
    const v2 = { images: [{ resource: { '@id': 'https://x/full.jpg', width: 10, height: 20, service: { '@id': 'https://x/iiif/img/info.json' } } }] };
    expect(canvasImage(v2)).toMatchObject({ image: 'https://x/iiif/img', width: 10, height: 20 });
    const bare = { items: [{ items: [{ body: { id: 'https://x/a.png', type: 'Image' } }] }] };
    expect(canvasImage(bare)).toMatchObject({ image: 'https://x/a.png', service: null });
  });
});

describe('models and misc', () => {
  test('model list envelopes; embeddings and super-resolution are not analysable', () => {
    const models = modelList(fixture('models.json'));
    expect(models.map((m) => m.id)).toContain('detector-demo');
    expect(modelList({ models: [{ name: 'x' }] })).toEqual([{ name: 'x', id: 'x' }]);
    expect(analysableModels(models).map((m) => m.id)).not.toContain('embedding-demo');
    const kinds = [{ id: 'c', kind: 'classifier' }, { id: 's', kind: 'superres' }];
    expect(analysableModels(kinds).map((m) => m.id)).toEqual(['c']);
  });
  test('base64url without padding', () => {
    expect(base64url('https://x/iiif/a?')).toBe('aHR0cHM6Ly94L2lpaWYvYT8');
  });
  test('super-resolution region: enhanced pixels with a scale, else a percentage; no rect: full', () => {
    const canvas = { width: 2000, height: 1500 };
    const image = { width: 1000, height: 750 };
    const rect = { x: 200, y: 300, w: 1000, h: 600 }; // canvas px → image 100,150,500,300
    expect(superresRegion(rect, canvas, image, 4)).toBe('400,600,2000,1200');
    expect(superresRegion(rect, canvas, image, undefined)).toBe('pct:10,20,50,40');
    expect(superresRegion(null, canvas, image, 2)).toBe('full');
    expect(superresRegion({ x: 5000, y: 0, w: 10, h: 10 }, canvas, image, 2)).toBe('full');
  });
  test('similar results: canvases of the open manifest navigate; others carry their manifest title or IRI', () => {
    expect(embeddingModels([{ id: 'e', kind: 'embedding' }, { id: 'c', kind: 'classifier', kinds: ['classifier', 'embedding'] },
      { id: 'd', kind: 'detector' }]).map((m) => m.id)).toEqual(['e', 'c']);
    expect(formatScore(0.98765)).toBe('0.988');
    expect(formatScore(undefined)).toBe('—');
    expect(shortIri('https://lib.example/iiif/book/canvas/7#x')).toBe('…/canvas/7');
    const response = {
      items: [
        { canvas: 'https://a/m/c2', manifest: 'https://a/m', region: 'full', score: 0.9, thumbnail: 'https://i/2/full/!200,200/0/default.jpg' },
        { canvas: 'https://b/x/y/c9', manifest: 'https://b/x/manifest', region: '1,2,3,4', score: 0.5, thumbnail: 'https://i/9/1,2,3,4/!200,200/0/default.jpg' },
        { canvas: 'https://c/z/q/c1', manifest: null, region: 'full', score: 0.1 },
        { manifest: 'no canvas' },
      ],
    };
    const rows = similarRows(response, [{ id: 'https://a/m/c1', label: 'p. 1' }, { id: 'https://a/m/c2', label: 'p. 2' }],
      { 'https://b/x/manifest': 'Another book' });
    expect(rows.map((r) => [r.rank, r.here, r.canvasLabel, r.region, r.manifestLabel, r.manifest])).toEqual([
      [1, true, 'p. 2', null, 'this manifest', 'https://a/m'],
      [2, false, '…/y/c9', '1,2,3,4', 'Another book', 'https://b/x/manifest'],
      [3, false, '…/q/c1', null, 'no manifest recorded', null],
    ]);
    expect(rows[2].thumbnail).toBeNull();
    expect(similarRows(null)).toEqual([]);
  });
});

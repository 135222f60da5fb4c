/**
 * A small static + fake-API server for the browser test ONLY (never the product): serves
 * dist/ at /viewer/ (as annoserver will), the examples, the fixture manifest and pages, a
 * level-0 image service over a generated PNG, and fake GET /models, POST /analyze and
 * POST /annotations/{id}/review responders that record what they were sent.
 *
 *   node test/browser/server.mjs [port]   # serve for a manual look
 */
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pageImage } from './png.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const fixtures = path.join(root, 'test', 'fixtures');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.png': 'image/png',
  '.css': 'text/css',
};

function send(res, status, body, type = 'application/json') {
  const data = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': data.length, 'Cache-Control': 'no-store' });
  res.end(data);
}

function problem(res, status, detail) {
  send(res, status, { type: 'about:blank', title: http.STATUS_CODES[status], status, detail }, 'application/problem+json');
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function serveFile(res, file) {
  const resolved = path.resolve(file);
  if (!resolved.startsWith(root) || !fs.existsSync(resolved) || !fs.statSync(resolved).isFile()) {
    return problem(res, 404, `No file ${path.relative(root, resolved)}`);
  }
  return send(res, 200, fs.readFileSync(resolved), TYPES[path.extname(resolved)] || 'application/octet-stream');
}

/** The fake analysis: one box per requested model, in the middle of the region, in CANVAS coordinates. */
function analyse(base, request) {
  const canvas = request.canvas || {};
  const image = { width: 1000, height: 750 };
  const sx = (canvas.width || image.width) / image.width;
  const sy = (canvas.height || image.height) / image.height;
  const [x, y, w, h] = request.region === 'full' || !request.region
    ? [0, 0, image.width, image.height] : request.region.split(',').map(Number);
  const box = [x + w * 0.2, y + h * 0.2, w * 0.6, h * 0.6];
  const xywh = [box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy].map(Math.round).join(',');
  const items = (request.models || []).map((model, index) => ({
    id: `${base}/annotations/analysis-${model}-${index + 1}`,
    type: 'Annotation',
    motivation: model.startsWith('classifier') ? 'classifying' : 'tagging',
    created: new Date().toISOString(),
    creator: { type: 'Software', name: model, version: model.startsWith('classifier') ? '0.3.1' : '1.2.0' },
    body: [{ type: 'TextualBody', value: 'figure', purpose: 'tagging', confidence: 0.77 }],
    target: {
      type: 'SpecificResource',
      source: { id: canvas.id, type: 'Canvas', partOf: request.manifest ? [{ id: request.manifest, type: 'Manifest' }] : undefined },
      selector: { type: 'FragmentSelector', conformsTo: 'http://www.w3.org/TR/media-frags/', value: `xywh=${xywh}` },
    },
  }));
  return {
    '@context': ['http://www.w3.org/ns/anno.jsonld', `${base}/ns/annoserver.jsonld`],
    id: `${base}/analyze/result-${Date.now()}`,
    type: 'AnnotationPage',
    items,
  };
}

export function startServer({ port = 0, host = '127.0.0.1' } = {}) {
  const image = pageImage();
  const requests = [];
  let base = '';
  const fixture = (name) => fs.readFileSync(path.join(fixtures, name), 'utf8').replaceAll('{{BASE}}', base);

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, base);
    const p = url.pathname;
    try {
      if (req.method === 'POST') {
        const text = await readBody(req);
        let body = null;
        try { body = JSON.parse(text); } catch (e) { return problem(res, 400, 'The body is not JSON.'); }
        requests.push({ method: 'POST', path: p, body, authorization: req.headers.authorization || null });
        if (p === '/analyze') return send(res, 200, analyse(base, body), 'application/ld+json');
        const review = /^\/annotations\/([^/]+)\/review$/.exec(p);
        if (review) {
          if (!req.headers.authorization) return problem(res, 401, 'A bearer token is needed.');
          return send(res, 201, { id: `${base}/reviews/1`, verdict: body.verdict, target: `${base}/annotations/${review[1]}` });
        }
        return problem(res, 404, `No POST route ${p}`);
      }
      requests.push({ method: req.method, path: p });
      if (p === '/viewer') {
        res.writeHead(301, { Location: '/viewer/' });
        return res.end();
      }
      if (p === '/viewer/config.js') {
        const config = { server: base, defaultManifest: `${base}/fixtures/manifest.json` };
        return send(res, 200, `window.ANNOSERVER_CONFIG = ${JSON.stringify(config)};\n`, TYPES['.js']);
      }
      if (p === '/viewer/') return serveFile(res, path.join(root, 'dist', 'index.html'));
      if (p.startsWith('/viewer/')) return serveFile(res, path.join(root, 'dist', p.slice('/viewer/'.length)));
      if (p.startsWith('/dist/') || p.startsWith('/examples/')) return serveFile(res, path.join(root, p.slice(1)));
      if (p === '/fixtures/manifest.json') return send(res, 200, fixture('manifest.json'), 'application/ld+json');
      const page = /^\/pages\/([\w-]+)$/.exec(p);
      if (page) return send(res, 200, fixture(`pages/${page[1]}.json`), 'application/ld+json');
      if (p === '/models') return send(res, 200, fixture('models.json'));
      if (p === '/iiif/page1/info.json') {
        return send(res, 200, {
          '@context': 'http://iiif.io/api/image/3/context.json',
          id: `${base}/iiif/page1`,
          type: 'ImageService3',
          protocol: 'http://iiif.io/api/image',
          profile: 'level0',
          width: image.width,
          height: image.height,
          // one tile covers the whole image at every scale factor, so the same PNG answers every request
          tiles: [{ width: 1024, height: 1024, scaleFactors: [1, 2, 4] }],
          sizes: [{ width: 250, height: 188 }, { width: 500, height: 375 }, { width: 1000, height: 750 }],
        }, 'application/ld+json');
      }
      if (p.startsWith('/iiif/page1/')) return send(res, 200, image.png, 'image/png');
      if (p === '/favicon.ico') return send(res, 204, '');
      return problem(res, 404, `Nothing at ${p}`);
    } catch (e) {
      return problem(res, 500, e.message);
    }
  });

  return new Promise((resolve) => {
    server.listen(port, host, () => {
      base = `http://${host}:${server.address().port}`;
      resolve({ base, requests, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { base } = await startServer({ port: Number(process.argv[2] || 0) });
  console.log(`serving ${base}/viewer/?manifest=${base}/fixtures/manifest.json`);
}

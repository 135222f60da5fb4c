/**
 * Serves the fixture manifest and its AnnotationPages over real HTTP on 127.0.0.1, for the
 * tests that run the plugin in a real Mirador store (Mirador fetches them itself, with
 * isomorphic-unfetch). `{{BASE}}` in the fixtures becomes this server's URL.
 *
 * For the component tests it also stands in for annoserver's write API: GET /models (the
 * fixture), POST /annotations/{id}/review (201), POST /manifests (202, job 1) and GET /jobs/1
 * (whatever `job` holds), and GET /similar: for canvas 1, three stored neighbours (canvas 2 and
 * a region of canvas 1 in this manifest, a canvas of another manifest; `scope=manifest` keeps
 * the first two); for `image=`, none; for any other canvas, a 404 problem; or whatever
 * `similar.answer` holds ({status, body}). Every POST and every GET /similar is recorded in
 * `requests`.
 */
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');

export function startFixtureServer() {
  let base = '';
  const requests = [];
  const job = { state: 'running', total: 2, done: 1, failed: 0 };
  const similar = { answer: null };
  const send = (res, status, body) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const answerPost = (req, res, pathname, body) => {
    requests.push({ path: pathname, authorization: req.headers.authorization || null, body });
    const review = /^\/annotations\/([\w-]+)\/review$/.exec(pathname);
    if (review) return send(res, 201, { annotation: `${base}/annotations/${review[1]}`, ...body });
    // the fixture manifest stands for the enriched one
    if (pathname === '/manifests') return send(res, 202, { key: 'k1', manifest: `${base}/fixtures/manifest.json`, job: `${base}/jobs/1` });
    return send(res, 404, { detail: `Nothing at ${pathname}` });
  };
  const answerSimilar = (res, params) => {
    if (similar.answer) return send(res, similar.answer.status, similar.answer.body);
    const manifest = `${base}/fixtures/manifest.json`;
    const other = `${base}/other/manifest.json`;
    const thumb = (image, region) => `${image}/${region}/!200,200/0/default.jpg`;
    const stored = [
      { canvas: `${base}/fixtures/canvas/2`, manifest, region: 'full', score: 0.973412 },
      { canvas: `${base}/fixtures/canvas/1`, manifest, region: '100,50,300,200', score: 0.8106 },
      { canvas: `${base}/other/canvas/7`, manifest: other, region: 'full', score: 0.61234 },
    ].map((item) => {
      const image = `${base}/iiif/${item.canvas.split('/').slice(-2).join('-')}`;
      return { ...item, image, thumbnail: thumb(image, item.region) };
    });
    const scope = params.get('scope') || 'all';
    const reply = (query, items, scoped) => send(res, 200, {
      model: { id: 'embedding-demo', version: '1.0.0' }, query, scope, manifest: scope === 'manifest' ? scoped : null,
      k: Number(params.get('k') || 20), searched: 4, items,
    });
    if (params.get('image')) {
      return reply({ image: params.get('image'), region: params.get('region') || 'full' }, [], params.get('manifest'));
    }
    if (params.get('canvas') === `${base}/fixtures/canvas/1`) {
      return reply({ canvas: params.get('canvas'), region: 'full' },
        stored.filter((item) => scope === 'all' || item.manifest === manifest), manifest);
    }
    return send(res, 404, {
      type: 'about:blank', title: 'Not Found', status: 404,
      detail: `No embedding of canvas '${params.get('canvas')}' (region 'full') by embedding-demo 1.0.0.`,
    });
  };
  const server = http.createServer((req, res) => {
    const { pathname, searchParams } = new URL(req.url, base);
    if (req.method === 'POST') {
      let text = '';
      req.on('data', (chunk) => { text += chunk; });
      req.on('end', () => answerPost(req, res, pathname, text ? JSON.parse(text) : null));
      return;
    }
    if (pathname === '/similar') {
      requests.push({ path: pathname, query: Object.fromEntries(searchParams) });
      answerSimilar(res, searchParams);
      return;
    }
    if (pathname === '/jobs/1') {
      send(res, 200, { id: `${base}/jobs/1`, manifest: `${base}/fixtures/manifest.json`, ...job });
      return;
    }
    const page = /^\/pages\/([\w-]+)$/.exec(pathname);
    let file = null;
    if (pathname === '/fixtures/manifest.json') file = 'manifest.json';
    else if (pathname === '/models') file = 'models.json';
    else if (page) file = `pages/${page[1]}.json`;
    if (!file || !fs.existsSync(path.join(fixtures, file))) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end(`Nothing at ${pathname}`);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/ld+json' });
    res.end(fs.readFileSync(path.join(fixtures, file), 'utf8').replaceAll('{{BASE}}', base));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      base = `http://127.0.0.1:${server.address().port}`;
      resolve({
        base, requests, job, similar, close: () => new Promise((r) => server.close(r)),
      });
    });
  });
}

/**
 * Serves the fixture manifest and its AnnotationPages over real HTTP on 127.0.0.1, for the
 * tests that run the plugin in a real Mirador store (Mirador fetches them itself, with
 * isomorphic-unfetch). `{{BASE}}` in the fixtures becomes this server's URL.
 *
 * For the component tests it also stands in for annoserver's write API: GET /models (the
 * fixture), POST /annotations/{id}/review (201), POST /manifests (202, job 1) and GET /jobs/1
 * (whatever `job` holds). Every POST is recorded in `requests`.
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
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, base);
    if (req.method === 'POST') {
      let text = '';
      req.on('data', (chunk) => { text += chunk; });
      req.on('end', () => answerPost(req, res, pathname, text ? JSON.parse(text) : null));
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
        base, requests, job, close: () => new Promise((r) => server.close(r)),
      });
    });
  });
}

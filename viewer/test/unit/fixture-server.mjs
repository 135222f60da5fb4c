/**
 * Serves the fixture manifest and its AnnotationPages over real HTTP on 127.0.0.1, for the
 * test that runs the plugin in a real Mirador store (Mirador fetches them itself, with
 * isomorphic-unfetch). `{{BASE}}` in the fixtures becomes this server's URL.
 */
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');

export function startFixtureServer() {
  let base = '';
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, base);
    const page = /^\/pages\/([\w-]+)$/.exec(pathname);
    let file = null;
    if (pathname === '/fixtures/manifest.json') file = 'manifest.json';
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
      resolve({ base, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

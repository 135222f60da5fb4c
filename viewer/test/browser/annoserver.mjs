/**
 * The real parts of the browser test: the annoserver itself (`annoserver serve`: gunicorn,
 * a temporary DATA_DIR with its SQLite file, some of the shipped ONNX models, a write token
 * from `annoserver tokens create`) and a second, plain static site on another port that
 * stands for an institution's own web site, serving the embed example with the script-tag
 * bundle and a manifest of two canvases showing the demo page: p. 1 at the image's size,
 * through the server's own level-0 demo image service; p. 2 twice as large, through the IIIF
 * reference image server (`iiif_testserver.py` of the test-only `iiif` package, GPL, run as a
 * separate process as tests/iiif/servers.py does), so that every canvas↔image scaling is
 * exercised. (Mirador 3 draws its own highlights, search hits included, in the first image's
 * pixels, so those are right only on canvases like p. 1.)
 *
 * All three listen on 127.0.0.1 only. The manifest is registered and enriched through
 * `POST /manifests`, and the job is awaited, before the browser opens anything.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const viewerRoot = path.resolve(here, '../..');
const repoRoot = path.resolve(viewerRoot, '..');
const HOST = '127.0.0.1';
// The second canvas is this many times the image's pixel size.
export const CANVAS_SCALE = 2;

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.json': 'application/json' };

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function getJson(url, options) {
  const response = await fetch(url, options);
  const text = await response.text();
  if (!response.ok) throw new Error(`${options && options.method || 'GET'} ${url}: ${response.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** The annoserver command of the repository's virtual environment (`make install`). */
function annoserverCommand() {
  const command = process.env.ANNOSERVER_BIN || path.join(repoRoot, '.venv', 'bin', 'annoserver');
  if (!fs.existsSync(command)) {
    throw new Error(`${command} is missing: run "make install" (or set ANNOSERVER_BIN).`);
  }
  return command;
}

/** The site that embeds the viewer: examples/, dist/, and the test manifest. */
function startSite(port, manifest) {
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, `http://${HOST}`);
    if (pathname === '/manifest.json') {
      res.writeHead(200, { 'Content-Type': 'application/ld+json', 'Access-Control-Allow-Origin': '*' });
      return res.end(JSON.stringify(manifest));
    }
    const file = path.resolve(viewerRoot, `.${pathname}`);
    const allowed = ['dist', 'examples'].some((dir) => file.startsWith(path.join(viewerRoot, dir) + path.sep));
    if (!allowed || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      return res.end(`Nothing at ${pathname}`);
    }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream' });
    return res.end(fs.readFileSync(file));
  });
  return new Promise((resolve) => { server.listen(port, HOST, () => resolve(server)); });
}

/**
 * A Presentation 3 manifest of two canvases painted by the same picture: p. 1 at the size of
 * `first` (an Image API info.json), p. 2 at CANVAS_SCALE times the size of `second`.
 */
function testManifest(site, first, second) {
  const canvas = (n, info, scale) => {
    const id = `${site}/canvas/p${n}`;
    return {
      id,
      type: 'Canvas',
      label: { en: [`p. ${n}`] },
      width: info.width * scale,
      height: info.height * scale,
      items: [{
        id: `${id}/page`,
        type: 'AnnotationPage',
        items: [{
          id: `${id}/painting`,
          type: 'Annotation',
          motivation: 'painting',
          target: id,
          body: {
            id: `${info.id}/full/max/0/default.jpg`,
            type: 'Image',
            format: 'image/jpeg',
            width: info.width,
            height: info.height,
            service: [{ id: info.id, type: 'ImageService3', profile: info.profile }],
          },
        }],
      }],
    };
  };
  return {
    '@context': 'http://iiif.io/api/presentation/3/context.json',
    id: `${site}/manifest.json`,
    type: 'Manifest',
    label: { en: ['A printed page, then the same page on a canvas twice its pixel size'] },
    items: [canvas(1, first, 1), canvas(2, second, CANVAS_SCALE)],
  };
}

/** Poll a URL until it answers 200 (or the process has exited). */
async function waitFor(url, child, log, what) {
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}):\n${log()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch (e) { /* not listening yet */ }
    await sleep(250);
  }
  throw new Error(`${what} did not answer ${url} in 60 s:\n${log()}`);
}

/** Start a process, keeping its output for error messages. */
function startProcess(command, args, options) {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  return { child, log: () => output };
}

async function stopProcess(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(10000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

async function awaitJob(url, token) {
  const deadline = Date.now() + 120000;
  for (;;) {
    const job = await getJson(url, { headers: { Authorization: `Bearer ${token}` } });
    if (job.state === 'done') return job;
    if (['failed', 'cancelled'].includes(job.state)) throw new Error(`enrichment job ${job.state}: ${JSON.stringify(job.errors)}`);
    if (Date.now() > deadline) throw new Error(`enrichment job still ${job.state} after 120 s`);
    await sleep(300);
  }
}

/**
 * Start annoserver and the embedding site, register and enrich the test manifest.
 * @param {string[]} models the models to enrich with
 * @param {string[]} extraModels further shipped models the server offers (not enriched with)
 * @returns {{base, site, token, manifest, enriched, job, close}}
 */
export async function startAnnoserver({ models, extraModels = [] }) {
  const command = annoserverCommand();
  const python = path.join(path.dirname(command), 'python');
  const referenceServer = path.join(path.dirname(command), 'iiif_testserver.py');
  if (!fs.existsSync(referenceServer)) throw new Error(`${referenceServer} is missing: make install (the test extra) installs it.`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'annoserver-e2e-'));
  // only the shipped models the test uses (linked, not copied): fewer to load, and a model
  // being added to onnx_models/ meanwhile cannot break the viewer's test
  const modelsDir = path.join(dataDir, 'models');
  const imagesDir = path.join(dataDir, 'images');
  fs.mkdirSync(modelsDir);
  fs.mkdirSync(imagesDir);
  for (const model of [...models, ...extraModels]) {
    fs.symlinkSync(path.join(repoRoot, 'onnx_models', model), path.join(modelsDir, model));
  }
  fs.copyFileSync(path.join(repoRoot, 'manifests', 'demo', 'images', 'page.jpg'), path.join(imagesDir, 'page.jpg'));
  const [port, sitePort, imagePort] = [await freePort(), await freePort(), await freePort()];
  const base = `http://${HOST}:${port}`;
  const site = `http://${HOST}:${sitePort}`;
  const env = {
    ...process.env,
    ANNOSERVER_DATA_DIR: dataDir,
    ANNOSERVER_DATABASE_URL: '',
    ANNOSERVER_BROKER_URL: '',
    ANNOSERVER_PUBLIC_URL: base,
    ANNOSERVER_MODELS_DIR: modelsDir,
    ANNOSERVER_VIEWER_DIR: path.join(viewerRoot, 'dist'),
    // the server fetches manifests and images from itself, the site and the image server
    ANNOSERVER_ALLOWED_HOSTS: [port, sitePort, imagePort].map((p) => `${HOST}:${p}`).join(','),
    ANNOSERVER_JOB_POLL_INTERVAL: '0.2',
  };
  delete env.ANNOSERVER_CONFIG;
  const created = spawnSync(command, ['tokens', 'create', '--scope', 'write', '--name', 'browser-test'],
    { env, cwd: repoRoot, encoding: 'utf8' });
  if (created.status !== 0) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`annoserver tokens create failed:\n${created.stderr.slice(-3000)}`);
  }
  const token = created.stdout.trim().split('\n').pop().trim();

  const annoserver = startProcess(command, ['serve', '--host', HOST, '--port', String(port), '--workers', '1'],
    { env, cwd: repoRoot });
  const images = startProcess(python, [referenceServer, '--host', HOST, '--port', String(imagePort),
    '--image-dir', imagesDir, '--api-versions', '3.0', '--manipulators', 'pil', '--quiet'], { cwd: dataDir });
  let siteServer = null;
  const close = async () => {
    if (siteServer) await new Promise((r) => siteServer.close(r));
    await Promise.all([stopProcess(annoserver.child), stopProcess(images.child)]);
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitFor(`${base}/ready`, annoserver.child, annoserver.log, 'annoserver');
    const referenceInfo = `http://${HOST}:${imagePort}/3.0_pil/page/info.json`;
    await waitFor(referenceInfo, images.child, images.log, 'the IIIF reference image server');
    const manifest = testManifest(site, await getJson(`${base}/demo/iiif/page/info.json`), await getJson(referenceInfo));
    siteServer = await startSite(sitePort, manifest);
    const registered = await getJson(`${base}/manifests`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ url: manifest.id, models }),
    });
    const job = await awaitJob(registered.job, token);
    return {
      base, site, token, manifest, enriched: registered.manifest, job, close, log: annoserver.log,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

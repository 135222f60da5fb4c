/**
 * The server's public HTTP contract as the plugin uses it (see DESIGN.md):
 * GET /models, POST /analyze, POST /annotations/{id}/review, POST /manifests, GET /jobs/{id},
 * GET /similar.
 * No React, no Mirador: testable with a fake fetch.
 */

export class ApiError extends Error {
  constructor(message, status, problem) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem || null;
  }
}

async function readJson(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch (e) {
    return { detail: text.slice(0, 300) };
  }
}

/** A human sentence for a failed response (RFC 9457 problem `detail`, else its title/status). */
export function problemMessage(status, body) {
  if (body && typeof body === 'object') {
    if (body.detail) return String(body.detail);
    if (body.title) return String(body.title);
  }
  if (status === 401) return 'The server needs a valid access token for this.';
  if (status === 403) return 'This access token may not do that.';
  return `The server answered ${status}.`;
}

/** Where to POST a review for an annotation, or null when the annotation is not this server's. */
export function reviewUrl(server, annotationId) {
  if (!server || typeof annotationId !== 'string') return null;
  const base = `${server}/annotations/`;
  if (!annotationId.startsWith(base)) return null;
  const rest = annotationId.slice(base.length).replace(/[?#].*$/, '').replace(/\/+$/, '');
  if (!rest || rest.includes('/')) return null;
  return `${base}${rest}/review`;
}

/** Token kept for the browser session (sessionStorage), never in localStorage or the URL. */
export function tokenStore(key = 'annoserver.token', storage = (typeof sessionStorage !== 'undefined' ? sessionStorage : null)) {
  let memory = '';
  return {
    get() {
      try {
        return (storage && storage.getItem(key)) || memory;
      } catch (e) {
        return memory;
      }
    },
    set(value) {
      memory = value || '';
      try {
        if (!storage) return;
        if (value) storage.setItem(key, value); else storage.removeItem(key);
      } catch (e) { /* storage may be disabled */ }
    },
  };
}

/**
 * @param {object} options {server, getToken, fetch}
 */
export function createClient({ server, getToken = () => '', fetch: fetchImpl } = {}) {
  const doFetch = fetchImpl || ((...args) => globalThis.fetch(...args));
  const base = String(server || '').replace(/\/+$/, '');

  async function request(method, url, body, { auth = false } = {}) {
    const headers = { Accept: 'application/ld+json, application/json;q=0.9, */*;q=0.1' };
    const token = getToken();
    if (token && (auth || method !== 'GET')) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await doFetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new ApiError(`Could not reach the server (${e.message}).`, 0);
    }
    const json = await readJson(response);
    if (!response.ok) throw new ApiError(problemMessage(response.status, json), response.status, json);
    return { json, status: response.status, headers: response.headers };
  }

  return {
    server: base,
    /** GET /models → the list as the server gives it. */
    async models() {
      return (await request('GET', `${base}/models`)).json;
    },
    /**
     * POST /analyze.
     * @param {object} body {image, region, models, canvas: {id, width, height}, manifest, persist}
     * @returns the W3C AnnotationPage
     */
    async analyze(body) {
      return (await request('POST', `${base}/analyze`, body, { auth: true })).json;
    },
    /** POST /annotations/{id}/review with {verdict, body?}. */
    async review(annotationId, verdict, correctedBody) {
      const url = reviewUrl(base, annotationId);
      if (!url) throw new ApiError('This annotation is not stored on this server, so it cannot be reviewed.', 0);
      const payload = { verdict };
      if (correctedBody !== undefined) payload.body = correctedBody;
      return (await request('POST', url, payload, { auth: true })).json;
    },
    /** POST /manifests {url, models} → {key, manifest, job} (202). */
    async enrich(manifestUrl, models, options) {
      const payload = { url: manifestUrl, models };
      if (options) payload.options = options;
      const { json, headers } = await request('POST', `${base}/manifests`, payload, { auth: true });
      const location = headers && headers.get ? headers.get('Location') : null;
      return { ...(json || {}), job: (json && json.job) || (location ? new URL(location, `${base}/`).href : null) };
    },
    /** GET a job URL → {state, total, done, failed, errors, rate, eta}. */
    async job(url) {
      return (await request('GET', url, undefined, { auth: true })).json;
    },
    /**
     * GET /similar: the stored canvases/regions most like a canvas (`{canvas}`, its stored
     * vector) or like a region of a IIIF image (`{image, region}`, embedded on the fly).
     * @param {object} query {canvas} or {image, region}
     * @param {object} options {k, scope: 'all'|'manifest', manifest, model}
     * @returns {model, query, scope, manifest, k, searched, items: [{canvas, manifest, region, score, image, thumbnail}]}
     */
    async similar(query, { k, scope, manifest, model } = {}) {
      const params = new URLSearchParams();
      if (query.canvas) params.set('canvas', query.canvas);
      else params.set('image', query.image);
      if (query.region) params.set('region', query.region);
      if (k) params.set('k', String(k));
      if (scope) params.set('scope', scope);
      if (manifest) params.set('manifest', manifest);
      if (model) params.set('model', model);
      return (await request('GET', `${base}/similar?${params}`)).json;
    },
    /** DELETE a job URL. */
    async cancelJob(url) {
      return (await request('DELETE', url, undefined, { auth: true })).json;
    },
  };
}

export const FINAL_JOB_STATES = ['done', 'failed', 'cancelled'];

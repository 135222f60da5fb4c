import { describe, expect, test } from 'vitest';
import { createClient, problemMessage, reviewUrl, tokenStore } from '../../src/api.js';

function fakeFetch(responses) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, ...init, body: init.body ? JSON.parse(init.body) : undefined });
    const r = responses[`${init.method} ${url}`] || { status: 404, body: { detail: 'nope' } };
    return {
      ok: r.status < 400,
      status: r.status,
      headers: new Map(Object.entries(r.headers || {})),
      text: async () => (r.body === undefined ? '' : JSON.stringify(r.body)),
    };
  };
  return { fetch, calls };
}

describe('client', () => {
  test('GET /models sends no token; POST /analyze sends the bearer token and the JSON body', async () => {
    const { fetch, calls } = fakeFetch({
      'GET https://s/models': { status: 200, body: [{ id: 'm' }] },
      'POST https://s/analyze': { status: 200, body: { type: 'AnnotationPage', items: [] } },
    });
    const client = createClient({ server: 'https://s/', getToken: () => 't0k', fetch });
    expect(await client.models()).toEqual([{ id: 'm' }]);
    expect(calls[0].headers.Authorization).toBeUndefined();
    const body = { image: 'https://i/iiif/1', region: '1,2,3,4', models: ['m'], canvas: { id: 'c', width: 1, height: 1 }, persist: false };
    expect(await client.analyze(body)).toEqual({ type: 'AnnotationPage', items: [] });
    expect(calls[1]).toMatchObject({ method: 'POST', body, headers: { Authorization: 'Bearer t0k', 'Content-Type': 'application/json' } });
  });
  test('errors carry the problem detail', async () => {
    const { fetch } = fakeFetch({ 'POST https://s/analyze': { status: 400, body: { title: 'Bad Request', detail: 'The region lies outside the image.' } } });
    const client = createClient({ server: 'https://s', fetch });
    await expect(client.analyze({})).rejects.toMatchObject({ status: 400, message: 'The region lies outside the image.' });
    const failing = createClient({ server: 'https://s', fetch: async () => { throw new Error('refused'); } });
    await expect(failing.models()).rejects.toMatchObject({ status: 0 });
    expect(problemMessage(401, null)).toMatch(/token/);
  });
  test('review URL only for annotations of this server', async () => {
    expect(reviewUrl('https://s', 'https://s/annotations/abc')).toBe('https://s/annotations/abc/review');
    expect(reviewUrl('https://s', 'https://other/annotations/abc')).toBeNull();
    expect(reviewUrl('https://s', 'https://s/annotations/')).toBeNull();
    const { fetch, calls } = fakeFetch({ 'POST https://s/annotations/abc/review': { status: 201, body: { verdict: 'corrected' } } });
    const client = createClient({ server: 'https://s', getToken: () => 'k', fetch });
    await client.review('https://s/annotations/abc', 'corrected', { type: 'TextualBody', value: 'ship' });
    expect(calls[0].body).toEqual({ verdict: 'corrected', body: { type: 'TextualBody', value: 'ship' } });
    await expect(client.review('urn:x', 'accepted')).rejects.toThrow(/not stored/);
  });
  test('enrich: the job URL from the body, else from Location', async () => {
    const { fetch, calls } = fakeFetch({
      'POST https://s/manifests': { status: 202, body: { key: 'k1', manifest: 'https://s/manifests/k1' }, headers: { Location: '/jobs/7' } },
      'GET https://s/jobs/7': { status: 200, body: { state: 'running', total: 10, done: 3 } },
    });
    const client = createClient({ server: 'https://s', getToken: () => 'k', fetch });
    const started = await client.enrich('https://lib/m.json', ['det']);
    expect(started).toEqual({ key: 'k1', manifest: 'https://s/manifests/k1', job: 'https://s/jobs/7' });
    expect(calls[0].body).toEqual({ url: 'https://lib/m.json', models: ['det'] });
    expect(await client.job(started.job)).toMatchObject({ state: 'running', done: 3 });
  });
});

describe('similar', () => {
  test('GET /similar for a canvas or a region of an image, with k, scope and manifest; errors carry the detail', async () => {
    const canvasUrl = 'https://s/similar?canvas=https%3A%2F%2Flib%2Fc%2F1&k=5&scope=manifest';
    const regionUrl = 'https://s/similar?image=https%3A%2F%2Fi%2Fiiif%2Fp1&region=10%2C20%2C30%2C40&scope=manifest&manifest=https%3A%2F%2Fs%2Fmanifests%2Fk1';
    const { fetch, calls } = fakeFetch({
      [`GET ${canvasUrl}`]: { status: 200, body: { items: [{ canvas: 'https://lib/c/2', score: 0.9 }] } },
      [`GET ${regionUrl}`]: { status: 404, body: { title: 'Not Found', detail: 'No embedding of canvas x.' } },
    });
    const client = createClient({ server: 'https://s', getToken: () => 'k', fetch });
    expect(await client.similar({ canvas: 'https://lib/c/1' }, { k: 5, scope: 'manifest' })).toEqual({ items: [{ canvas: 'https://lib/c/2', score: 0.9 }] });
    expect(calls[0].headers.Authorization).toBeUndefined();
    await expect(client.similar({ image: 'https://i/iiif/p1', region: '10,20,30,40' }, { scope: 'manifest', manifest: 'https://s/manifests/k1' }))
      .rejects.toMatchObject({ status: 404, message: 'No embedding of canvas x.' });
  });
});

describe('token store', () => {
  test('kept in the given (session) storage, removed when cleared', () => {
    const data = new Map();
    const storage = { getItem: (k) => data.get(k) ?? null, setItem: (k, v) => data.set(k, v), removeItem: (k) => data.delete(k) };
    const tokens = tokenStore('annoserver.token', storage);
    expect(tokens.get()).toBe('');
    tokens.set('abc');
    expect(data.get('annoserver.token')).toBe('abc');
    expect(tokens.get()).toBe('abc');
    tokens.set('');
    expect(data.has('annoserver.token')).toBe(false);
  });
  test('works without storage', () => {
    const tokens = tokenStore('k', null);
    tokens.set('x');
    expect(tokens.get()).toBe('x');
  });
});

import { describe, expect, test } from 'vitest';
import { merge, miradorConfig, pageOptions } from '../../src/config.js';

describe('served page options', () => {
  test('?manifest= wins over the default manifest; server from the config', () => {
    const config = { server: 'https://a.example/', defaultManifest: 'https://a.example/manifests/demo' };
    expect(pageOptions('https://a.example/viewer/?manifest=https%3A%2F%2Flib%2Fm.json', config))
      .toEqual({ server: 'https://a.example', manifest: 'https://lib/m.json' });
    expect(pageOptions('https://a.example/viewer/', config))
      .toEqual({ server: 'https://a.example', manifest: 'https://a.example/manifests/demo' });
  });
  test('without a config: the server is the parent of /viewer/, no manifest', () => {
    expect(pageOptions('http://127.0.0.1:8080/viewer/?x=1')).toEqual({ server: 'http://127.0.0.1:8080', manifest: null });
    expect(pageOptions('https://h/prefix/viewer/index.html').server).toBe('https://h/prefix');
    expect(pageOptions('https://h/viewer/?min_confidence=0.4').minConfidence).toBe(0.4);
  });
});

describe('Mirador config', () => {
  test('one window with the panel open, plugin settings under `annoserver`', () => {
    const config = miradorConfig({ id: 'v', manifest: 'https://m', server: 'https://s', minConfidence: 0.2 });
    expect(config.windows).toEqual([{ manifestId: 'https://m' }]);
    expect(config.window).toMatchObject({ sideBarOpen: true, sideBarPanel: 'annoserver' });
    expect(config.annoserver).toEqual({ server: 'https://s', minConfidence: 0.2 });
    expect(config.catalog).toEqual([{ manifestId: 'https://m' }]);
  });
  test('explicit windows, extra Mirador config merged last', () => {
    const config = miradorConfig({
      id: 'v', windows: [{ manifestId: 'a' }, { manifestId: 'b' }], panel: false,
      mirador: { window: { defaultView: 'book' }, workspaceControlPanel: { enabled: false } },
    });
    expect(config.windows).toHaveLength(2);
    expect(config.window).toMatchObject({ sideBarOpen: false, defaultView: 'book', sideBarPanel: 'annoserver' });
    expect(config.workspaceControlPanel).toEqual({ enabled: false });
    expect(merge({ a: [1] }, { a: [2] })).toEqual({ a: [2] });
  });
});

/** Building a Mirador config that opens the plugin's panel (used by the bundle and the page). */

function isObject(value) {
  return value && typeof value === 'object' && !Array.isArray(value);
}

/** Deep merge of plain objects (arrays and other values of `b` replace those of `a`). */
export function merge(a, b) {
  if (!isObject(a) || !isObject(b)) return b === undefined ? a : b;
  const out = { ...a };
  for (const [key, value] of Object.entries(b)) out[key] = key in a ? merge(a[key], value) : value;
  return out;
}

/**
 * A Mirador config with the annoserver panel open in each window.
 * @param {object} options {id, manifest, manifests, windows, server, minConfidence, colours,
 *   defaultModels, panel (default true), mirador (extra Mirador config, merged last)}
 */
export function miradorConfig(options = {}) {
  const {
    id, manifest, windows, server, panel = true, mirador = {}, ...plugin
  } = options;
  const manifests = options.manifests || [];
  let openWindows = windows;
  if (!openWindows) openWindows = manifest ? [{ manifestId: manifest }] : [];
  delete plugin.manifests;
  const annoserver = { server: server || '', ...plugin };
  const base = {
    id,
    windows: openWindows,
    annoserver,
    window: {
      sideBarOpen: Boolean(panel),
      sideBarPanel: 'annoserver',
      defaultSidebarPanelWidth: 340,
    },
    workspace: { showZoomControls: true },
  };
  if (manifests.length || manifest) {
    base.catalog = [...new Set([manifest, ...manifests].filter(Boolean))].map((manifestId) => ({ manifestId }));
  }
  return merge(base, mirador);
}

/**
 * What the served page opens: `?manifest=` wins, then the server's default manifest.
 * @param {string} href the page's location
 * @param {object} config window.ANNOSERVER_CONFIG ({server, defaultManifest, ...})
 */
export function pageOptions(href, config = {}) {
  const url = new URL(href);
  const manifest = url.searchParams.get('manifest') || config.defaultManifest || null;
  // The page lives at {server}/viewer/: without a configured server, use that base.
  const fallbackServer = new URL('../', new URL('./', url)).href.replace(/\/+$/, '');
  const server = String(config.server || fallbackServer).replace(/\/+$/, '');
  const options = { ...config, server, manifest };
  delete options.defaultManifest;
  const minConfidence = url.searchParams.get('min_confidence');
  if (minConfidence !== null && !Number.isNaN(Number(minConfidence))) options.minConfidence = Number(minConfidence);
  return options;
}

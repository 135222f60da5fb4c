/**
 * The script-tag bundle: Mirador 3 + the plugin, as `window.AnnoserverMirador`.
 *
 *   AnnoserverMirador.viewer({ id: 'viewer', manifest: 'https://…/manifest.json', server: 'https://annoserver.example' })
 */
import { Mirador, createViewer } from './mirador-api.js';
import { annoserverPlugin } from './plugin.jsx';
import { miradorConfig, pageOptions } from './config.js';

export { Mirador, annoserverPlugin as plugin, miradorConfig };

/** Start Mirador with the plugin; returns Mirador's viewer instance (its `store` included). */
export function viewer(options = {}, extraPlugins = []) {
  return createViewer(miradorConfig(options), [...annoserverPlugin, ...extraPlugins]);
}

/** The page served at /viewer/: reads ?manifest= and window.ANNOSERVER_CONFIG. */
export function page(options = {}) {
  const config = (typeof window !== 'undefined' && window.ANNOSERVER_CONFIG) || {};
  const resolved = { ...pageOptions(window.location.href, config), ...options };
  const instance = viewer(resolved);
  window.annoserverViewer = instance;
  return instance;
}

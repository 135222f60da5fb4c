/**
 * annoserver-mirador-plugin: machine-annotation layers, filters, region analysis and review
 * for Mirador 3, against an annoserver (see README.md).
 *
 *   import Mirador from 'mirador';
 *   import annoserverPlugin from 'annoserver-mirador-plugin';
 *   Mirador.viewer({ id: 'viewer', windows: [{ manifestId }], annoserver: { server } }, [...annoserverPlugin]);
 */
export { annoserverPlugin, annoserverPlugin as default, PANEL } from './plugin.jsx';
export { reducer } from './state.js';
export * as model from './model.js';
export { createClient, tokenStore } from './api.js';
export { miradorConfig } from './config.js';

/**
 * Two builds (npm run build runs both):
 *   vite build --mode lib     → dist/annoserver-mirador-plugin.es.js (Mirador, React, MUI external)
 *   vite build --mode bundle  → dist/annoserver-mirador.js (IIFE: Mirador 3 + plugin) + dist/index.html
 * JSX is compiled by esbuild (classic runtime: React.createElement), no React plugin.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const PEERS = [/^react$/, /^react\//, /^react-dom$/, /^react-dom\//, /^mirador$/, /^mirador\//, /^@material-ui\//];

const esbuild = {
  jsx: 'transform',
  jsxFactory: 'React.createElement',
  jsxFragment: 'React.Fragment',
};

export default defineConfig(({ mode }) => {
  if (mode === 'bundle') {
    return {
      esbuild,
      publicDir: 'page', // index.html, the page the server serves at /viewer/
      resolve: { alias: { url: fileURLToPath(new URL('./src/shims/url.js', import.meta.url)) } },
      define: { 'process.env.NODE_ENV': JSON.stringify('production') },
      build: {
        outDir: 'dist',
        emptyOutDir: false,
        target: 'es2019',
        minify: true,
        sourcemap: false,
        chunkSizeWarningLimit: 4000,
        lib: {
          entry: 'src/bundle.js',
          formats: ['iife'],
          name: 'AnnoserverMirador',
          fileName: () => 'annoserver-mirador.js',
        },
      },
    };
  }
  return {
    esbuild,
    publicDir: false,
    build: {
      outDir: 'dist',
      emptyOutDir: true,
      target: 'es2019',
      minify: false,
      sourcemap: true,
      lib: {
        entry: 'src/index.js',
        formats: ['es'],
        fileName: () => 'annoserver-mirador-plugin.es.js',
      },
      rollupOptions: {
        external: (id) => PEERS.some((re) => re.test(id)),
        // Mirador's own modules have no import side effects: one that nothing uses is left out
        // (createPluggableStore, which mirador-api.js exports for tests)
        treeshake: { moduleSideEffects: (id, external) => !external || !/^mirador\//.test(id) },
      },
    },
  };
});

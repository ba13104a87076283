import {defineConfig} from 'vite'

// Preact's JSX through vite's own transform (no extra plugin): the whole toolchain is vite.
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // PDF.js is large and loaded only when a PDF is previewed; no need to warn about it.
    chunkSizeWarningLimit: 2048,
    sourcemap: false,
    // Plugin timings depend on the machine's load, not on this project: not worth a warning.
    rolldownOptions: {checks: {pluginTimings: false}},
  },
  oxc: {jsx: {runtime: 'automatic', importSource: 'preact'}},
})

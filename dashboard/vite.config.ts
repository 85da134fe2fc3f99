import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The UI: Preact + uPlot, bundled by Vite into dist/ (served by src/assets.ts). Everything
// comes from npm at build time; nothing is fetched from a CDN at run time.
export default defineConfig({
  root: fileURLToPath(new URL("./ui", import.meta.url)),
  base: "/",
  logLevel: "warn",
  build: {
    outDir: fileURLToPath(new URL("./dist", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    // No inline module-preload polyfill: the CSP allows only this origin's script files.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
  oxc: {
    jsx: { runtime: "automatic", importSource: "preact" },
  },
});

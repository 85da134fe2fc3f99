import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { DashboardError } from "./errors.ts";

/** The package root (dashboard/) and the built UI (dashboard/dist, by `npm run build -w @devreg/dashboard`). */
const PACKAGE_DIR = fileURLToPath(new URL("..", import.meta.url));
export const DIST_DIR = join(PACKAGE_DIR, "dist");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
  ".json": "application/json",
};

export interface Asset {
  body: Buffer;
  type: string;
  /** Hashed file names (assets/…) never change: cache them for good. */
  immutable: boolean;
}

/**
 * Every built file, read once into memory and served only from this map: no request path
 * ever reaches the file system, so there is nothing to traverse.
 */
export function loadAssets(dir = DIST_DIR): Map<string, Asset> {
  if (!existsSync(join(dir, "index.html"))) {
    throw new DashboardError("E_ASSETS_MISSING", `the dashboard UI is not built (${dir}/index.html missing): run \`npm run build -w @devreg/dashboard\``);
  }
  const out = new Map<string, Asset>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else {
        const rel = `/${relative(dir, p).split(sep).join("/")}`;
        out.set(rel, {
          body: readFileSync(p),
          type: TYPES[extname(p)] ?? "application/octet-stream",
          immutable: rel.startsWith("/assets/"),
        });
      }
    }
  };
  walk(dir);
  return out;
}

/**
 * Builds the UI with Vite when dist/ is missing (a fresh clone, CI): the build needs only the
 * npm registry's packages, never a CDN. Vite is a dev dependency; an image built with
 * --omit=dev ships dist/ instead (Dockerfile).
 */
export async function ensureBuilt(dir = DIST_DIR): Promise<void> {
  if (existsSync(join(dir, "index.html"))) return;
  const vite = await import("vite");
  await vite.build({ configFile: join(PACKAGE_DIR, "vite.config.ts"), logLevel: "warn" });
}

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BenchResult } from "../result.ts";
import { renderMarkdown } from "./markdown.ts";
import { renderSvg } from "./svg.ts";

export interface ResultFiles {
  json: string;
  markdown: string;
  svg: string;
  latest: string;
}

/** "2025-01-02T03:04:05.678Z" -> "2025-01-02T03-04-05Z": sortable and safe in file names. */
export function fileStamp(iso: string): string {
  return iso.replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
}

/** Writes <stamp>.json, <stamp>.md (linking the chart), <stamp>.svg and latest.md. */
export function writeResults(r: BenchResult, dir: string): ResultFiles {
  mkdirSync(dir, { recursive: true });
  const stamp = fileStamp(r.startedAt);
  const files: ResultFiles = {
    json: join(dir, `${stamp}.json`),
    markdown: join(dir, `${stamp}.md`),
    svg: join(dir, `${stamp}.svg`),
    latest: join(dir, "latest.md"),
  };
  const md = `${renderMarkdown(r)}\n![latency and scale chart](${stamp}.svg)\n`;
  writeFileSync(files.json, `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(files.svg, renderSvg(r));
  writeFileSync(files.markdown, md);
  writeFileSync(files.latest, md);
  return files;
}

import { writeFileSync } from "node:fs";
import { Registrations, resolveKubeConfig } from "@devreg/kube";
import type { CDPSession, Page } from "playwright-core";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cleanup, type TestEnv, testEnv } from "../../gateway-mqtt/test/helpers.ts";
import { gatewayRegistration } from "../../operator/test/helpers.ts";
import { type DashboardHandle, ensureBuilt, startDashboard } from "../src/index.ts";
import { ARTIFACTS, launchBrowser } from "./browser.ts";

const DEVICES = Number(process.env.DEVREG_DASHBOARD_SCALE ?? 10_000);
const MODELS = ["th-01", "th-02", "gw-10", "lamp-3", "=cmd|' /C calc'!A0"];

/**
 * 10,000 registrations in the real apiserver, one browser tab: how long until the table shows
 * them all, how much JS heap the page holds, and that it stays responsive (filtering and
 * scrolling, a live change reaching its row). Figures go to test-artifacts/scale.json.
 */
describe(`dashboard at ${DEVICES} devices`, () => {
  const cleanup = new Cleanup();
  let env: TestEnv;
  let dash: DashboardHandle;
  let page: Page;
  let cdp: CDPSession;
  const figures: Record<string, number | string> = { devices: DEVICES };

  beforeAll(async () => {
    await ensureBuilt();
    env = await testEnv("dash-scale");
    const regs = new Registrations(env.rest, env.ns);
    const t0 = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < DEVICES) {
          const i = next++;
          await regs.create(gatewayRegistration({ model: MODELS[i % MODELS.length], serialNumber: `SN-${String(i).padStart(6, "0")}` }));
        }
      }),
    );
    figures.createSeconds = Math.round((Date.now() - t0) / 100) / 10;
    dash = await startDashboard({
      credential: { kind: "kubeconfig", kc: resolveKubeConfig(env.kubeconfig).kc },
      namespace: env.ns,
      logger: pino({ level: "silent" }),
    });
    cleanup.add(() => dash.close());
    const browser = await launchBrowser();
    cleanup.add(() => browser.close());
    page = await browser.context.newPage();
    cdp = await browser.context.newCDPSession(page);
    await cdp.send("Performance.enable");
  }, 600_000);

  afterAll(async () => {
    writeFileSync(`${ARTIFACTS}scale.json`, `${JSON.stringify(figures, null, 2)}\n`);
    process.stderr.write(`[dashboard scale] ${JSON.stringify(figures)}\n`);
    await cleanup.run();
    env?.rest.close();
  });

  it("loads every device into the table, keeping only the visible rows in the DOM", async () => {
    const t0 = Date.now();
    await page.goto(dash.loginUrl);
    await expect
      .poll(() => page.getByTestId("device-counts").textContent(), { timeout: 60_000, interval: 50 })
      .toMatch(new RegExp(`^${DEVICES} devices`));
    figures.initialLoadMs = Date.now() - t0;
    figures.snapshotRenderedMs = Math.round(
      (await page.evaluate(`performance.getEntriesByName("devreg:snapshot-rendered")[0]?.startTime ?? -1`)) as number,
    );
    await page.waitForTimeout(500);
    await cdp.send("HeapProfiler.collectGarbage");
    const { metrics } = (await cdp.send("Performance.getMetrics")) as { metrics: Array<{ name: string; value: number }> };
    const metric = (n: string) => metrics.find((m) => m.name === n)?.value ?? 0;
    figures.jsHeapUsedMiB = Math.round((metric("JSHeapUsedSize") / 2 ** 20) * 10) / 10;
    figures.jsHeapTotalMiB = Math.round((metric("JSHeapTotalSize") / 2 ** 20) * 10) / 10;
    figures.domNodes = metric("Nodes");
    // The page's own view (Chromium, with --enable-precise-memory-info).
    figures.performanceMemoryUsedMiB =
      Math.round(((await page.evaluate(`performance.memory.usedJSHeapSize`)) as number) / 2 ** 17) / 8;
    const rowsInDom = await page.locator(".viewport tbody tr").count();
    figures.rowsInDom = rowsInDom;
    expect(rowsInDom).toBeLessThan(100);
    expect(figures.jsHeapUsedMiB as number).toBeLessThan(150);
    await page.screenshot({ path: `${ARTIFACTS}scale-${DEVICES}.png` });
  });

  it("stays responsive: filter, scroll to the end, a live change reaches its row", async () => {
    let t0 = Date.now();
    await page.getByLabel("Search").fill(`SN-${String(Math.floor(DEVICES / 2)).padStart(6, "0")}`);
    await expect.poll(() => page.locator(".viewport tbody tr").count(), { interval: 20 }).toBe(1);
    figures.filterMs = Date.now() - t0;
    await page.getByLabel("Search").fill("");
    t0 = Date.now();
    await page.getByLabel("Model").selectOption("lamp-3");
    await expect.poll(() => page.getByTestId("device-counts").textContent(), { interval: 20 }).toContain(`${DEVICES / 5} shown`);
    figures.modelFilterMs = Date.now() - t0;
    await page.getByLabel("Model").selectOption("");

    t0 = Date.now();
    await page.locator(".viewport").evaluate((el) => {
      const box = el as unknown as { scrollTop: number; scrollHeight: number };
      box.scrollTop = box.scrollHeight;
    });
    const lastIndex = DEVICES - 1;
    await expect.poll(() => page.locator(`.viewport tbody tr[data-index="${lastIndex}"]`).count(), { interval: 20 }).toBe(1);
    figures.scrollToEndMs = Date.now() - t0;

    // A change made in the apiserver reaches the open page through the watch.
    const regs = new Registrations(env.rest, env.ns);
    const victim = (await regs.list({ limit: 1 })).items[0]?.metadata.name as string;
    await page.getByLabel("Search").fill(victim.slice(4, 20));
    t0 = Date.now();
    await regs.delete(victim);
    await expect.poll(() => page.getByTestId("device-counts").textContent(), { interval: 20 }).toMatch(new RegExp(`^${DEVICES - 1} devices`));
    figures.watchDeleteToRowMs = Date.now() - t0;
    // Long tasks while idle: none should block the main thread for long.
    const longest = (await page.evaluate(`new Promise((resolve) => {
      let max = 0;
      new PerformanceObserver((l) => { for (const e of l.getEntries()) max = Math.max(max, e.duration); }).observe({ type: "longtask", buffered: true });
      setTimeout(() => resolve(max), 300);
    })`)) as number;
    figures.longestTaskMs = Math.round(longest);
  });
});

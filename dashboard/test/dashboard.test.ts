import { resolveKubeConfig, type ConfigMap, type DeviceRegistration } from "@devreg/kube";
import { pairingPath } from "@devreg/operator";
import { Fleet, VirtualMcu, createIdentity, nodeCrypto } from "@devreg/firmware-sim";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Cleanup,
  type TestEnv,
  startTestGateway,
  startTestOperator,
  testEnv,
} from "../../gateway-mqtt/test/helpers.ts";
import { type DashboardHandle, ensureBuilt, startDashboard } from "../src/index.ts";
import { ARTIFACTS, launchBrowser } from "./browser.ts";

const XSS_SERIAL = "<script>alert(1)</script>";
const XSS_MODEL = "=cmd|' /C calc'!A0";
const FLEET = 30;

/**
 * The dashboard as a person uses it, in real headless Chromium, against the real stack: the
 * shared control plane, the real operator and gateway, virtual MCUs enrolling over MQTT.
 */
describe("devreg dashboard in a browser", () => {
  const cleanup = new Cleanup();
  let env: TestEnv;
  let dash: DashboardHandle;
  let page: Page;
  let gwKey: Uint8Array;
  let mqttUrl: string;
  const dialogs: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await ensureBuilt();
    env = await testEnv("dash");
    const op = await startTestOperator(env, cleanup, "op-dash");
    // A device held for an admin (manual mode) hears "pending" after 3 s instead of 10 s.
    const gw = await startTestGateway(env, cleanup, { decisionTimeoutMs: 3_000 });
    gwKey = gw.publicKey;
    mqttUrl = `mqtt://127.0.0.1:${gw.mqttPort}`;
    dash = await startDashboard({
      credential: { kind: "kubeconfig", kc: resolveKubeConfig(env.kubeconfig).kc },
      namespace: env.ns,
      metrics: { gateway: `http://127.0.0.1:${gw.adminPort}`, operator: `http://127.0.0.1:${op.httpPort}` },
      metricsIntervalMs: 1_000,
      logger: (await import("pino")).pino({ level: "silent" }),
    });
    cleanup.add(() => dash.close());
    const browser = await launchBrowser();
    cleanup.add(() => browser.close());
    page = await browser.context.newPage();
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on("pageerror", (e) => pageErrors.push(e.message));
  });

  afterAll(async () => {
    await cleanup.run();
    env?.rest.close();
  });

  const shot = (name: string) => page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });

  it("signs in with the printed one-time link, which then stops working", async () => {
    await page.goto(dash.loginUrl);
    await expect.poll(() => page.getByTestId("user").textContent()).toBeTruthy();
    expect(await page.getByTestId("user").textContent()).not.toBe("");
    const again = await fetch(dash.loginUrl, { redirect: "manual" });
    expect(again.status).toBe(403);
    expect(((await again.json()) as { code: string }).code).toBe("E_LOGIN_TOKEN");
  });

  it("refuses writes without the CSRF header, from another origin, or for another host", async () => {
    const cookies = await page.context().cookies(dash.url);
    const session = cookies.find((c) => c.name === "devreg_dashboard");
    expect(session?.sameSite).toBe("Strict");
    expect(session?.httpOnly).toBe(true);
    const cookie = `devreg_dashboard=${session?.value}`;
    const origin = dash.url.replace(/\/$/, "");
    const info = (await (await fetch(`${dash.url}api/session`, { headers: { cookie } })).json()) as { csrfToken: string };
    const post = (headers: Record<string, string>) =>
      fetch(`${dash.url}api/pairing`, {
        method: "POST",
        headers: { cookie, "content-type": "application/json", ...headers },
        body: JSON.stringify({ enabled: true, duration: "1h" }),
      });
    const noCsrf = await post({ origin });
    expect([noCsrf.status, ((await noCsrf.json()) as { code: string }).code]).toEqual([403, "E_CSRF"]);
    const crossSite = await post({ origin: "http://evil.example", "x-devreg-csrf": info.csrfToken });
    expect([crossSite.status, ((await crossSite.json()) as { code: string }).code]).toEqual([403, "E_CSRF"]);
    const noCookie = await fetch(`${dash.url}api/session`);
    expect(noCookie.status).toBe(401);
    // DNS rebinding: a page on another name that resolves here is refused outright.
    const rebound = await new Promise<number>((resolve, reject) => {
      import("node:http").then(({ request }) => {
        const u = new URL(dash.url);
        request({ host: u.hostname, port: u.port, path: "/api/session", headers: { host: "evil.example", cookie } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on("error", reject)
          .end();
      }, reject);
    });
    expect(rebound).toBe(421);
    // None of these opened pairing.
    const cm = await env.rest.request<ConfigMap>("GET", pairingPath(env.ns)).catch(() => undefined);
    expect(cm?.data?.enabled ?? "false").not.toBe("true");
  });

  it("opens a pairing window from the UI (confirmed) and its countdown runs", async () => {
    await page.getByLabel("Duration").fill("2m");
    await page.getByRole("button", { name: "Open pairing" }).first().click();
    const confirm = page.getByRole("dialog", { name: "Open pairing?" });
    await confirm.getByRole("button", { name: "Open pairing" }).click();
    await expect.poll(() => page.getByTestId("pairing-state").textContent(), { timeout: 10_000 }).toBe("OPEN");
    const countdown = page.getByRole("timer");
    const first = await countdown.textContent();
    expect(first).toMatch(/^1:5\d$|^2:00$/);
    const toSeconds = (t: string | null) => {
      const [m, s] = (t ?? "").split(":").map(Number);
      return (m ?? 0) * 60 + (s ?? 0);
    };
    await expect.poll(async () => toSeconds(await countdown.textContent()), { timeout: 5_000 }).toBeLessThan(toSeconds(first));
    const cm = await env.rest.request<ConfigMap>("GET", pairingPath(env.ns));
    expect(cm.data?.enabled).toBe("true");
    const left = Date.parse(cm.data?.expiresAt ?? "") - Date.now();
    expect(left).toBeGreaterThan(100_000);
    expect(left).toBeLessThanOrEqual(120_000);
    await shot("1-pairing-open");
  });

  let watched: VirtualMcu;

  it("shows a fleet enrolling, live, with device-controlled text as plain text", async () => {
    watched = new VirtualMcu({ identity: createIdentity(nodeCrypto), mqttUrl, gatewayPublicKey: gwKey, metadata: { model: "th-01", firmwareVersion: "1.0.0" }, crypto: "node" });
    cleanup.add(() => watched.stop());
    const enrolled = new Promise<string>((resolve) => watched.once("enrolled", resolve));
    void watched.start();
    await enrolled;
    const fleet = new Fleet({
      count: FLEET,
      rate: 15,
      mqttUrl,
      gatewayPublicKey: gwKey,
      metadata: { model: XSS_MODEL, firmwareVersion: "1.0.0", serialNumber: XSS_SERIAL },
    });
    const seenCounts: string[] = [];
    const done = fleet.run();
    // The table fills while the fleet runs (a watch, not a reload): sample its counter.
    const sampler = setInterval(() => {
      void page.getByTestId("device-counts").textContent().then((t) => t && seenCounts.push(t));
    }, 200);
    cleanup.add(() => fleet.stop());
    const summary = await done;
    expect(summary.outcomes.enrolled).toBe(FLEET);
    await expect
      .poll(() => page.getByTestId("device-counts").textContent(), { timeout: 15_000 })
      .toContain(`${FLEET + 1} devices · Pending 0 · Approved ${FLEET + 1}`);
    clearInterval(sampler);
    const intermediate = new Set(seenCounts.map((t) => /^(\d+) devices/.exec(t)?.[1]).filter((n) => n && Number(n) > 1 && Number(n) < FLEET + 1));
    expect(intermediate.size).toBeGreaterThan(0);

    // XSS: the strings are in the cells as text; no script element, no alert.
    const xssRow = page.locator(".viewport tbody tr").filter({ hasText: XSS_SERIAL }).first();
    expect(await xssRow.locator(".c-serialNumber").textContent()).toBe(XSS_SERIAL);
    expect(await xssRow.locator(".c-model").textContent()).toBe(XSS_MODEL);
    expect(await page.locator("#app script").count()).toBe(0);
    expect(dialogs).toEqual([]);
    // The enrollment chart saw the fleet and both components are healthy.
    await expect.poll(() => page.getByTestId("health-gateway").textContent(), { timeout: 10_000 }).toContain("ready");
    await expect.poll(() => page.getByTestId("health-operator").textContent(), { timeout: 10_000 }).toContain("ready");
    expect(await page.locator(".chart canvas").count()).toBeGreaterThanOrEqual(2);
    await shot("2-fleet-enrolled");

    // The detail view renders the same strings as text.
    await xssRow.click();
    const detail = page.getByRole("dialog", { name: /^dev-/ });
    expect(await detail.locator('[data-field="Serial number"]').textContent()).toBe(XSS_SERIAL);
    expect(await detail.locator('[data-field="Model"]').textContent()).toBe(XSS_MODEL);
    const windowId = (await env.rest.request<ConfigMap>("GET", pairingPath(env.ns))).data?.windowId as string;
    expect(await detail.locator('[data-field="Decided by"]').textContent()).toBe(`pairing-window:${windowId}`);
    expect(await detail.locator('[data-field="Approved by"]').textContent()).toMatch(new RegExp(`^pairing window ${windowId} \\(until `));
    await shot("3-detail-xss");
    await page.keyboard.press("Escape");
    await expect.poll(() => detail.isVisible()).toBe(false);
    expect(dialogs).toEqual([]);
  });

  it("deactivates a device from the keyboard: confirmed, its row changes, the device is told", async () => {
    const deviceId = watched.deviceId as string;
    const name = `dev-${deviceId}`;
    const told = new Promise<string>((resolve) => watched.on("state", (s) => s === "deactivated" && resolve(s)));
    // Keyboard only: search, move into the table, open the row, act, confirm.
    await page.getByLabel("Search").focus();
    await page.keyboard.type(deviceId.slice(0, 12));
    await expect.poll(() => page.locator(".viewport tbody tr").count()).toBe(1);
    await page.locator(".viewport tbody tr").first().focus();
    await page.keyboard.press("Enter");
    const detail = page.getByRole("dialog", { name });
    await expect.poll(() => detail.isVisible()).toBe(true);
    await detail.getByRole("button", { name: "Deactivate" }).focus();
    await page.keyboard.press("Enter");
    const confirm = page.getByRole("dialog", { name: `Deactivate ${name}?` });
    await confirm.getByRole("button", { name: "Deactivate" }).click();
    const row = page.locator(`.viewport tbody tr[data-name="${name}"]`);
    await expect.poll(() => row.locator(".c-phase").textContent(), { timeout: 15_000 }).toBe("Deactivated");
    expect(await told).toBe("deactivated");
    await expect.poll(() => detail.locator('[data-field="Decided by"]').textContent(), { timeout: 10_000 }).toBe("admin:devreg-dashboard");
    await expect.poll(() => detail.locator("table").last().textContent(), { timeout: 10_000 }).toContain("Deactivated");
    const reg = await env.rest.request<DeviceRegistration>("GET", `/apis/devices.example.com/v1alpha1/namespaces/${env.ns}/deviceregistrations/${name}`);
    expect(reg.spec.deactivate).toBe(true);
    await shot("4-deactivated");
    await page.keyboard.press("Escape");
  });

  const bootDevice = (model: string) => {
    const mcu = new VirtualMcu({ identity: createIdentity(nodeCrypto), mqttUrl, gatewayPublicKey: gwKey, metadata: { model, firmwareVersion: "2.0.0" }, crypto: "node" });
    cleanup.add(() => mcu.stop());
    const pending = new Promise<void>((resolve) => mcu.on("reply", (r) => r.status === "pending" && resolve()));
    const enrolled = new Promise<string>((resolve) => mcu.once("enrolled", resolve));
    const final = new Promise<string>((resolve) => mcu.once("final", (o) => resolve(o.phase)));
    void mcu.start();
    return { mcu, pending, enrolled, final, name: () => `dev-${mcu.deviceId}` };
  };
  const field = (dialog: ReturnType<Page["getByRole"]>, name: string) => dialog.locator(`[data-field="${name}"]`).textContent();
  const submitPairing = async () => {
    await page.locator(".pairing-form button[type=submit]").click();
    await page.getByRole("dialog", { name: "Open pairing?" }).getByRole("button", { name: "Open pairing" }).click();
  };

  it("opens a window with a device budget and a CEL selector: approvals used/left live, selector as text, spent shown", async () => {
    await page.getByLabel("Search").fill("");
    const SELECTOR_MODEL = "<img src=x onerror=alert(2)>";
    const selector = `model == "${SELECTOR_MODEL}"`;
    await page.getByLabel("Duration").fill("2m");
    await page.getByLabel("Device budget").fill("2");
    await page.getByLabel("Selector (CEL)").fill(selector);
    await submitPairing();
    await expect.poll(() => page.getByTestId("pairing-approvals").textContent(), { timeout: 10_000 }).toBe("0 used, 2 left of 2");
    const cm = await env.rest.request<ConfigMap>("GET", pairingPath(env.ns));
    expect(cm.data).toMatchObject({ enabled: "true", mode: "auto", maxDevices: "2", approvalsUsed: "0", selector });
    const managers = (cm.metadata as { managedFields?: Array<{ manager?: string }> }).managedFields?.map((f) => f.manager);
    expect(managers).toContain("devreg-dashboard");
    expect(await page.getByTestId("pairing-window-id").textContent()).toBe(cm.data?.windowId);
    expect(await page.getByTestId("pairing-mode").textContent()).toBe("auto");
    expect(await page.getByTestId("pairing-selector").textContent()).toBe(selector);
    expect(await page.locator("#app img").count()).toBe(0);

    const first = bootDevice(SELECTOR_MODEL);
    await first.enrolled;
    await expect.poll(() => page.getByTestId("pairing-approvals").textContent(), { timeout: 10_000 }).toBe("1 used, 1 left of 2");
    const row = page.locator(`.viewport tbody tr[data-name="${first.name()}"]`);
    await expect.poll(() => row.locator(".c-model").textContent(), { timeout: 10_000 }).toBe(SELECTOR_MODEL);
    await row.click();
    const detail = page.getByRole("dialog", { name: first.name() });
    await expect.poll(() => field(detail, "Approved by"), { timeout: 10_000 }).toMatch(
      new RegExp(`^pairing window ${cm.data?.windowId} \\(budget 2; selector model == "<img src=x onerror=alert\\(2\\)>"; until `),
    );
    expect(await field(detail, "Decided by")).toBe(`pairing-window:${cm.data?.windowId}`);
    await page.keyboard.press("Escape");

    await bootDevice(SELECTOR_MODEL).enrolled;
    await expect.poll(() => page.getByTestId("pairing-state").textContent(), { timeout: 10_000 }).toBe("CLOSED");
    expect(await page.getByTestId("pairing-closed-why").textContent()).toContain("budget spent");
    expect(await page.getByTestId("pairing-approvals").textContent()).toBe("2 used, 0 left of 2");
    expect(await page.locator("#app img").count()).toBe(0);
    expect(dialogs).toEqual([]);
    await shot("5-budget-spent");
  });

  it("manual mode from the UI: a pending device approved by keyboard gets its UUID; another denied is Rejected", async () => {
    // A budget and a selector are for auto windows, as with `devreg pairing on --manual`.
    await page.getByLabel("Manual approval").check();
    expect(await page.getByLabel("Device budget").isDisabled()).toBe(true);
    expect(await page.getByLabel("Selector (CEL)").isDisabled()).toBe(true);
    await page.getByLabel("Duration").fill("2m");
    await submitPairing();
    await expect.poll(() => page.getByTestId("pairing-mode").textContent(), { timeout: 10_000 }).toContain("manual");
    expect(await page.getByTestId("pairing-state").textContent()).toBe("OPEN");
    const cm = await env.rest.request<ConfigMap>("GET", pairingPath(env.ns));
    expect(cm.data).toMatchObject({ enabled: "true", mode: "manual", approvalsUsed: "0" });
    expect(cm.data?.maxDevices).toBeUndefined();
    expect(cm.data?.selector).toBeUndefined();
    await shot("6-manual-open");

    const a = bootDevice("th-manual");
    await a.pending;
    const name = a.name();
    const row = page.locator(`.viewport tbody tr[data-name="${name}"]`);
    await expect.poll(() => row.locator(".c-reason").textContent(), { timeout: 10_000 }).toBe("AwaitingApproval");
    expect(await row.locator(".c-phase").textContent()).toBe("Pending");

    // Keyboard only: search, into the table, open, Approve, confirm.
    await page.getByLabel("Search").fill("");
    await page.getByLabel("Search").focus();
    await page.keyboard.type((a.mcu.deviceId as string).slice(0, 12));
    await expect.poll(() => page.locator(".viewport tbody tr").count()).toBe(1);
    await page.locator(".viewport tbody tr").first().focus();
    await page.keyboard.press("Enter");
    const detail = page.getByRole("dialog", { name });
    await expect.poll(() => detail.getByRole("button", { name: "Approve" }).isVisible(), { timeout: 10_000 }).toBe(true);
    await detail.getByRole("button", { name: "Approve" }).focus();
    await page.keyboard.press("Enter");
    const confirm = page.getByRole("dialog", { name: `Approve ${name}?` });
    await expect.poll(() => confirm.isVisible()).toBe(true);
    // Focus starts on Cancel; Tab moves to the confirming button.
    await expect.poll(() => page.evaluate("document.activeElement?.textContent")).toBe("Cancel");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await expect.poll(() => row.locator(".c-phase").textContent(), { timeout: 15_000 }).toBe("Approved");
    const uuid = await a.enrolled;
    await expect.poll(() => row.locator(".c-deviceUUID").textContent(), { timeout: 10_000 }).toBe(uuid);
    await expect.poll(() => field(detail, "Decided by"), { timeout: 10_000 }).toBe("admin:devreg-dashboard");
    expect(await field(detail, "Approved by")).toBe("admin approval by field manager devreg-dashboard");
    expect(await field(detail, "Reason")).toBe("ApprovedByAdmin");
    expect(await detail.getByRole("button", { name: "Approve" }).count()).toBe(0);
    const reg = await env.regs.get(name);
    expect(reg.status?.approvedBy).toEqual({ kind: "Admin", admin: "devreg-dashboard" });
    await shot("7-approved");
    await page.keyboard.press("Escape");

    const b = bootDevice("th-manual");
    await b.pending;
    const rowB = page.locator(`.viewport tbody tr[data-name="${b.name()}"]`);
    await page.getByLabel("Search").fill((b.mcu.deviceId as string).slice(0, 12));
    await expect.poll(() => rowB.locator(".c-reason").textContent(), { timeout: 10_000 }).toBe("AwaitingApproval");
    await rowB.click();
    const detailB = page.getByRole("dialog", { name: b.name() });
    await detailB.getByRole("button", { name: "Deny" }).click();
    await page.getByRole("dialog", { name: `Deny ${b.name()}?` }).getByRole("button", { name: "Deny" }).click();
    await expect.poll(() => rowB.locator(".c-phase").textContent(), { timeout: 15_000 }).toBe("Rejected");
    expect(await rowB.locator(".c-reason").textContent()).toBe("DeniedByAdmin");
    expect(await b.final).toBe("rejected");
    await expect.poll(() => field(detailB, "Decided by"), { timeout: 10_000 }).toBe("admin:devreg-dashboard");
    expect(await detailB.locator('[data-field="Approved by"]').count()).toBe(0);
    await shot("8-denied");
    await page.keyboard.press("Escape");
    await page.getByLabel("Search").fill("");
    expect(dialogs).toEqual([]);
  });

  it("has labelled controls and no page errors", async () => {
    // Every control has an accessible name: a <label>, aria-label or its own text.
    const unlabelled = (await page.evaluate(`[...document.querySelectorAll("input, select, textarea, button")]
      .filter((el) => !(el.getAttribute("aria-label") || (el.labels && el.labels.length > 0) || el.textContent.trim()))
      .map((el) => el.outerHTML.slice(0, 80))`)) as string[];
    expect(unlabelled).toEqual([]);
    expect(await page.locator("html").getAttribute("lang")).toBe("en");
    // Tab reaches the pairing duration field from the page start.
    await page.locator("body").focus();
    let reached = false;
    for (let i = 0; i < 10 && !reached; i++) {
      await page.keyboard.press("Tab");
      reached = (await page.evaluate(`document.activeElement?.id === "pairing-duration"`)) as boolean;
    }
    expect(reached).toBe(true);
    expect(pageErrors).toEqual([]);
  });
});

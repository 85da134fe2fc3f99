import { writeFileSync } from "node:fs";

/** Writes a minimal token kubeconfig for `server` at `path` (fake apiservers, kubeconfig tests). */
export function writeKubeconfig(path: string, server: string): string {
  writeFileSync(
    path,
    [
      "apiVersion: v1",
      "kind: Config",
      `clusters: [{name: fake, cluster: {server: '${server}', insecure-skip-tls-verify: true}}]`,
      "users: [{name: fake, user: {token: fake-token}}]",
      "contexts: [{name: fake, context: {cluster: fake, user: fake}}]",
      "current-context: fake",
      "",
    ].join("\n"),
  );
  return path;
}

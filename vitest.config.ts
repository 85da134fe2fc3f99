import { defineConfig } from "vitest/config";

// Two projects: `unit` is pure logic with no I/O beyond loopback sockets; `e2e` shares one
// real local control plane (etcd + kube-apiserver with RBAC) started by a global setup.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["*/src/**/*.test.ts"],
          environment: "node",
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["*/test/**/*.test.ts"],
          environment: "node",
          globalSetup: ["kube/test-support/global-setup.ts"],
          // One shared apiserver on 2 cores: files run one after another, so timings stay sane.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});

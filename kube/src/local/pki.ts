import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ClusterError } from "./errors.ts";

export interface Pki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  etcdCert: string;
  etcdKey: string;
  etcdClientCert: string;
  etcdClientKey: string;
  saPub: string;
  saKey: string;
  tokensFile: string;
  adminToken: string;
}

function openssl(args: string[]): void {
  try {
    execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer };
    if (err.code === "ENOENT") throw new ClusterError("E_MISSING_BINARY", "openssl not found: apt-get install openssl");
    throw new ClusterError("E_PKI", `openssl ${args[0]} failed: ${err.stderr?.toString().trim().split("\n")[0] ?? ""}`);
  }
}

/** Issues a P-256 certificate signed by the CA in `dir`; `ext` is an openssl extension file body. */
function issueCert(dir: string, name: string, subject: string, ext: string): void {
  const p = (f: string) => join(dir, f);
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p(`${name}.key`)]);
  openssl(["req", "-new", "-key", p(`${name}.key`), "-subj", subject, "-out", p(`${name}.csr`)]);
  writeFileSync(p(`${name}.ext`), ext);
  openssl([
    "x509", "-req", "-in", p(`${name}.csr`), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial",
    "-days", "365", "-extfile", p(`${name}.ext`), "-out", p(`${name}.crt`),
  ]);
}

/**
 * A throwaway CA; loopback serving certs for kube-apiserver and etcd; the client cert
 * kube-apiserver shows etcd (etcd trusts only this CA's clients); service-account keys; an
 * admin token.
 */
export function createPki(dir: string): Pki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const p = (f: string) => join(dir, f);
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p("ca.key")]);
  openssl(["req", "-x509", "-new", "-key", p("ca.key"), "-subj", "/CN=devreg-local-ca", "-days", "365", "-out", p("ca.crt")]);
  issueCert(
    dir,
    "apiserver",
    "/CN=kube-apiserver",
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1\nextendedKeyUsage=serverAuth\n",
  );
  // etcd serves clients and its (single) peer listener with one cert, so it needs both usages.
  issueCert(dir, "etcd", "/CN=etcd", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n");
  issueCert(dir, "apiserver-etcd-client", "/CN=kube-apiserver-etcd-client", "extendedKeyUsage=clientAuth\n");
  const sa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(p("sa.key"), sa.privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  writeFileSync(p("sa.pub"), sa.publicKey.export({ type: "spki", format: "pem" }));
  const adminToken = randomBytes(24).toString("hex");
  // token,user,uid,"groups" — admin is system:masters; every other identity comes from RBAC.
  writeFileSync(p("tokens.csv"), `${adminToken},devreg-admin,devreg-admin,"system:masters"\n`, { mode: 0o600 });
  return {
    dir,
    caCert: p("ca.crt"),
    serverCert: p("apiserver.crt"),
    serverKey: p("apiserver.key"),
    etcdCert: p("etcd.crt"),
    etcdKey: p("etcd.key"),
    etcdClientCert: p("apiserver-etcd-client.crt"),
    etcdClientKey: p("apiserver-etcd-client.key"),
    saPub: p("sa.pub"),
    saKey: p("sa.key"),
    tokensFile: p("tokens.csv"),
    adminToken,
  };
}

/**
 * The gateway's request and CONNECT checks on node:crypto (OpenSSL), as the gateway ran them
 * before it moved to libsodium. Not exported from the package: tests hold the libsodium
 * gateway to this twin's answer on every vector and fuzzed frame.
 */
import { type ConnectCredentials, type ConnectProofOptions, openConnectProof } from "./connect-proof.ts";
import { nodeDeviceId, opensslVerify } from "./gateway.ts";
import { type DecodeRequestOptions, openEnrollRequest } from "./open-request.ts";

const openssl = { verify: opensslVerify, deviceIdOf: nodeDeviceId };

export const decodeEnrollRequestWithOpenssl = (frame: Uint8Array, opts?: DecodeRequestOptions) =>
  openEnrollRequest(frame, opts, openssl);

export const decodeConnectProofWithOpenssl = (creds: ConnectCredentials, opts?: ConnectProofOptions) =>
  openConnectProof(creds, opts, openssl);

import { readFileSync } from "node:fs";
import type { DeviceMetadata, EnrollReply, ProtocolErrorCode } from "./index.ts";

/** Typed views of protocol/vectors/*.json for tests. Read-only: tests never regenerate them. */
export interface RequestVector {
  name: string;
  seed: string;
  publicKey: string;
  deviceId: string;
  registrationName: string;
  requestTopic: string;
  replyTopic: string;
  requestId: string;
  nonce: string;
  timestamp: number;
  metadata: DeviceMetadata;
  protectedHeader: string;
  payload: string;
  sigStructure: string;
  signature: string;
  frame: string;
  frameLength: number;
}

export interface ReplyVector {
  name: string;
  reply: EnrollReply;
  payload: string;
  sigStructure: string;
  signature: string;
  frame: string;
  frameLength: number;
}

export interface NegativeVector {
  name: string;
  kind: "request" | "reply";
  description: string;
  frame: string;
  expectedError: ProtocolErrorCode;
  nowSeconds?: number;
  expectedDeviceId?: string;
  gatewayPublicKey?: string;
}

function load<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), "utf8")) as T;
}

export interface AcceptedRequestVector {
  name: string;
  description: string;
  deviceId: string;
  nowSeconds: number;
  frame: string;
}

export interface ConnectVector {
  name: string;
  description: string;
  seed: string;
  publicKey: string;
  clientId: string;
  username: string;
  nonce: string;
  timestamp: number;
  payload: string;
  sigStructure: string;
  signature: string;
  password: string;
  /** The same proof as base64url text, the Password form for string-only MQTT clients. */
  passwordText: string;
  passwordLength: number;
}

export interface ConnectNegativeVector {
  name: string;
  description: string;
  clientId?: string;
  username?: string | null;
  password?: string | null;
  nowSeconds?: number;
  presentTwice?: boolean;
  expectedError: ProtocolErrorCode;
}

export const requestVectors = load<{ vectors: RequestVector[]; accepted: AcceptedRequestVector[] }>(
  "requests.json",
);
export const connectVectors = load<{
  nowSeconds: number;
  valid: ConnectVector[];
  invalid: ConnectNegativeVector[];
}>("connect.json");
export const replyVectors = load<{ gatewaySeed: string; gatewayPublicKey: string; vectors: ReplyVector[] }>(
  "replies.json",
);
export const negativeVectors = load<{
  nowSeconds: number;
  gatewayPublicKey: string;
  vectors: NegativeVector[];
}>("negative.json");

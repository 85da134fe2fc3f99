/**
 * @devreg/protocol: the device <-> gateway enrollment protocol of SPEC.md.
 * Device-side functions use tweetnacl only; gateway-side functions use libsodium (sodium-native),
 * and the `*WithNode` twins for simulated devices use node:crypto.
 */

export { isDeterministic } from "./cbor-wellformed.ts";
export {
  CONNACK,
  type ConnectCredentials,
  type ConnectProof,
  type ConnectProofFields,
  type ConnectProofOptions,
  connackForConnectError,
  connectProofText,
} from "./connect-proof.ts";
export {
  DEFAULT_MAX_SKEW_SECONDS,
  DEFAULT_REPLAY_MAX_ENTRIES,
  DEFAULT_REPLAY_WINDOW_SECONDS,
  MAX_CONNECT_PROOF_BYTES,
  MAX_NESTING_DEPTH,
  MAX_REPLY_BYTES,
  MAX_REQUEST_BYTES,
  NONCE_BYTES,
  PROTOCOL_VERSION,
} from "./constants.ts";
export {
  type DeviceKeyPair,
  decodeConnectProofWithNacl,
  decodeEnrollRequestWithNacl,
  type EncodeConnectProofInput,
  encodeConnectProof,
  type EncodeEnrollRequestInput,
  encodeEnrollRequest,
  generateDeviceKeyPair,
  newNonce,
  newRequestId,
  verifyEnrollReply,
} from "./device.ts";
export {
  fail,
  ok,
  ProtocolError,
  type ProtocolErrorCode,
  type Result,
  reasonForError,
  statusForError,
} from "./errors.ts";
export {
  createGatewaySigner,
  decodeConnectProof,
  decodeEnrollReplyUnverified,
  decodeEnrollRequest,
  encodeConnectProofWithNode,
  encodeEnrollReply,
  encodeEnrollRequestWithNode,
  type GatewaySigner,
  type LocalGatewaySigner,
  verifyEnrollReplyWithNode,
} from "./gateway.ts";
export {
  deviceIdFromPublicKey,
  deviceIdFromRegistrationName,
  isValidDeviceId,
  registrationName,
  registrationNameForDeviceId,
} from "./identity.ts";
export {
  decodeJsonEnrollReply,
  decodeJsonEnrollRequest,
  encodeJsonEnrollReply,
  encodeJsonEnrollRequest,
  encodeJsonError,
  type JsonEnrollReply,
  type JsonEnrollRequest,
  type JsonErrorBody,
  MAX_JSON_BODY_BYTES,
} from "./json-transport.ts";
export type { ReplyExpectation } from "./open-reply.ts";
export { checkClockSkew, type DecodeRequestOptions, peekRequestId } from "./open-request.ts";
export {
  isSourceFull,
  type ReplayCheckOptions,
  ReplayGuard,
  type ReplayGuardOptions,
} from "./replay-guard.ts";
export { validateEnrollReply } from "./reply-payload.ts";
export { REPLY_TIMEOUT_SECONDS, retryDelaySeconds } from "./retry-policy.ts";
export {
  canPublish,
  canSubscribe,
  parseReplyTopic,
  parseRequestTopic,
  replyTopic,
  requestTopic,
} from "./topics.ts";
export type { DeviceMetadata, EnrollReply, EnrollRequest, ReplyStatus } from "./types.ts";

import {
  type ConnectProof,
  connackForConnectError,
  decodeConnectProof,
  isSourceFull,
  type ProtocolError,
  type ProtocolErrorCode,
  type ReplayGuard,
} from "@devreg/protocol";

/**
 * [PROTO-39] [PROTO-40] The CONNECT proof check as a pure decision (time and the replay
 * memory are passed in): accept with the proven key, or refuse with a kind for the
 * metric and a CONNACK return code. The connect hook only translates it.
 */

/** Refused CONNECTs by kind; each is counted in devreg_gateway_refusals_total{kind}. */
export const CONNECT_PROOF_REFUSALS = [
  /** No username or no password: no proof at all. */
  "connect_no_proof",
  /** A proof that is too large, not CBOR, a wrong envelope or payload (E_TOO_LARGE, E_MALFORMED_CBOR, …). */
  "connect_bad_proof",
  /** Username, proof clientId or proof key for another client id (E_CLIENT_MISMATCH). */
  "connect_wrong_key",
  /** Signature does not verify, or a small-order key (E_BAD_SIGNATURE, E_BAD_KEY, E_BAD_ALGORITHM). */
  "connect_bad_signature",
  /** Proof timestamp outside the skew limit (E_CLOCK_SKEW). */
  "connect_stale",
  /** Proof nonce seen before (E_REPLAY). */
  "connect_replay",
  /** Replay memory full of live entries (E_REPLAY_CACHE_FULL): CONNACK 3. */
  "connect_replay_full",
  /** The remote address holds its cap of live entries (E_REPLAY_CACHE_FULL, PROTO-23b): CONNACK 3. */
  "connect_replay_address_full",
] as const;

type ConnectProofRefusal = (typeof CONNECT_PROOF_REFUSALS)[number];

export type ConnectDecision =
  | { ok: true; proof: ConnectProof }
  | { ok: false; kind: ConnectProofRefusal; code: ProtocolErrorCode; returnCode: 3 | 4 | 5; message: string };

export interface ConnectCheckInput {
  clientId: string;
  username: string | undefined;
  password: Uint8Array | undefined;
  nowSeconds: number;
  /** The remote address's limit key (runtime limitKey): bounds its share of the replay memory [PROTO-23b]. */
  source?: string;
}

function refusalKind(e: ProtocolError): ConnectProofRefusal {
  const { code, field } = e;
  switch (code) {
    case "E_MISSING_FIELD":
      return field === "username" || field === "password" ? "connect_no_proof" : "connect_bad_proof";
    case "E_CLIENT_MISMATCH":
      return "connect_wrong_key";
    case "E_BAD_SIGNATURE":
    case "E_BAD_KEY":
    case "E_BAD_ALGORITHM":
      return "connect_bad_signature";
    case "E_CLOCK_SKEW":
      return "connect_stale";
    case "E_REPLAY":
      return "connect_replay";
    case "E_REPLAY_CACHE_FULL":
      return isSourceFull(e) ? "connect_replay_address_full" : "connect_replay_full";
    default:
      return "connect_bad_proof";
  }
}

/** [PROTO-39] steps 1–9: the proof, then the replay memory shared with requests (PROTO-23). */
export function checkConnectProof(
  input: ConnectCheckInput,
  replay: ReplayGuard,
  maxSkewSeconds: number | undefined,
): ConnectDecision {
  const r = decodeConnectProof(
    { clientId: input.clientId, username: input.username, password: input.password },
    { nowSeconds: input.nowSeconds, ...(maxSkewSeconds !== undefined ? { maxSkewSeconds } : {}) },
  );
  if (!r.ok) return refused(r.error);
  // Pinned: the device's own requests never push a live proof out early [PROTO-23a].
  const fresh = replay.check(r.value.deviceId, r.value.nonce, input.nowSeconds, {
    pin: true,
    ...(input.source !== undefined ? { source: input.source } : {}),
  });
  if (!fresh.ok) return refused(fresh.error);
  return { ok: true, proof: r.value };
}

function refused(e: ProtocolError): ConnectDecision {
  return {
    ok: false,
    kind: refusalKind(e),
    code: e.code,
    returnCode: connackForConnectError(e.code),
    message: e.message,
  };
}

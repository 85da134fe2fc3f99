import type { ReplyStatus } from "@devreg/protocol";
import type { RefusalKind } from "./broker/refusals.ts";
import type { Transport } from "./metrics.ts";

/** What a running gateway reports; `GatewayHandle.events` is an EventEmitter<GatewayEvents>. */
export interface GatewayEvents {
  /** A signed reply was handed to the transport. */
  replied: [
    info: {
      transport: Transport;
      deviceId: string;
      requestId: string;
      status: ReplyStatus;
      reason?: string;
      ms: number;
    },
  ];
  /** A client or request was refused (also counted and logged). */
  refused: [info: { kind: RefusalKind; clientId?: string; remote?: string }];
  /** A connected device was told it is deactivated and disconnected. */
  deactivated: [info: { deviceId: string }];
  /** A CONNECT took over the client id of a connected client. */
  takeover: [info: { clientId: string; remote?: string }];
  /** The informer failed; it retries by itself. */
  kubeError: [err: Error];
}

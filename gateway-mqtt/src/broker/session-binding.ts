import { isValidDeviceId } from "@devreg/protocol";

/**
 * [PROTO-41] Which key each live session proved at CONNECT. Keyed by the session
 * object, so a closed session's binding goes with it. Replies and deactivation notices
 * check the binding at delivery: a session that proved no key, or another device's key,
 * gets nothing.
 */
export class SessionBindings {
  readonly #bound = new WeakMap<object, { deviceId: string; publicKey: Uint8Array }>();

  bind(session: object, deviceId: string, publicKey: Uint8Array): void {
    this.#bound.set(session, { deviceId, publicKey });
  }

  /** True only if `session` proved the key of `deviceId` and is still that device's session. */
  isBoundTo(session: { id: string } | undefined, deviceId: string): boolean {
    if (!session || !isValidDeviceId(deviceId)) return false;
    const b = this.#bound.get(session);
    return b !== undefined && b.deviceId === deviceId && session.id === deviceId;
  }

  publicKeyOf(session: object): Uint8Array | undefined {
    return this.#bound.get(session)?.publicKey;
  }
}

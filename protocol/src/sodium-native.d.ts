/**
 * The few sodium-native (libsodium) functions the gateway uses. The package ships no types,
 * and @types/sodium-native describes an older major version. A CommonJS module: its
 * module.exports is the default import.
 */
declare module "sodium-native" {
  interface Sodium {
    /** libsodium's guarded allocation: outside the V8 heap, no core dump, guard pages, mlock. */
    sodium_malloc(size: number): Buffer;
    sodium_memzero(buf: ArrayBufferView): void;
    sodium_mprotect_readonly(buf: Buffer): void;
    crypto_sign_keypair(pk: Uint8Array, sk: Uint8Array): void;
    crypto_sign_seed_keypair(pk: Uint8Array, sk: Uint8Array, seed: Uint8Array): void;
    crypto_sign_detached(sig: Uint8Array, m: Uint8Array, sk: Uint8Array): void;
    /** true when valid; throws (assert) unless sig is at least 64 bytes and pk exactly 32. */
    crypto_sign_verify_detached(sig: Uint8Array, m: Uint8Array, pk: Uint8Array): boolean;
  }
  const sodium: Sodium;
  export default sodium;
}

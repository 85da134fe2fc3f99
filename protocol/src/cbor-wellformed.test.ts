import { describe, expect, it } from "vitest";
import { decodeCbor, encodeCbor } from "./cbor-codec.ts";
import { checkWellFormed, isDeterministic } from "./cbor-wellformed.ts";
import { fromHex } from "./hex.ts";

const code = (hex: string, opts = {}) => checkWellFormed(fromHex(hex), opts)?.code ?? "ok";

describe("CBOR profile walker", () => {
  it("[PROTO-8] accepts well-formed definite-length items", () => {
    for (const hex of [
      "00",
      "17",
      "1818",
      "1bffffffffffffffff",
      "20",
      "3bffffffffffffffff",
      "40",
      "4401020304",
      "60",
      "6161",
      "80",
      "a0",
      "a201020304",
      "8301820203a1616101",
    ]) {
      expect(code(hex), hex).toBe("ok");
    }
  });

  it("[PROTO-8] rejects truncation, reserved additional info and bad UTF-8 as E_MALFORMED_CBOR", () => {
    for (const hex of [
      "", // empty
      "18", // uint8 missing its byte
      "19ff", // uint16 short
      "1bffffffffffffff", // uint64 short
      "4401", // bstr shorter than its length
      "62c3", // tstr shorter than its length
      "8201", // array missing an item
      "a101", // map missing a value
      "1c", // ai 28 reserved
      "5d", // ai 29 reserved
      "fe", // ai 30 reserved
      "ff", // break outside indefinite item
      "1f", // indefinite uint
      "3f", // indefinite nint
      "62c328", // invalid UTF-8 continuation
      "63eda080", // UTF-8 encoded surrogate
      "61ff", // 0xff never valid in UTF-8
      "5b0000000100000000", // bstr length 2^32 with no data
      "9b7fffffffffffffff", // array count beyond input
      "bb7fffffffffffffff00", // map count beyond input
    ]) {
      expect(code(hex), hex).toBe("E_MALFORMED_CBOR");
    }
  });

  it("[PROTO-8] rejects indefinite-length strings, arrays and maps as E_INDEFINITE_LENGTH", () => {
    for (const hex of ["5f4101ff", "7f6161ff", "9f01ff", "bf0102ff", "82019f01ff", "a1019fff"]) {
      expect(code(hex), hex).toBe("E_INDEFINITE_LENGTH");
    }
  });

  it("[PROTO-9] allows nesting to depth 4 and rejects depth 5 as E_TOO_DEEP", () => {
    expect(code("8181818101")).toBe("ok");
    expect(code("818181818101")).toBe("E_TOO_DEEP");
    expect(code("a101a101a101a10101")).toBe("ok");
    expect(code("a101a101a101a101a10101")).toBe("E_TOO_DEEP");
    expect(code("8101", { maxDepth: 0 })).toBe("E_TOO_DEEP");
    // 2000 nested arrays must not recurse 2000 deep.
    expect(checkWellFormed(new Uint8Array(2000).fill(0x81))?.code).toBe("E_TOO_DEEP");
  });

  it("[PROTO-10] rejects duplicate map keys, also when heads differ in width", () => {
    expect(code("a201000100")).toBe("E_DUPLICATE_KEY");
    expect(code("a20100180100")).toBe("E_DUPLICATE_KEY");
    expect(code("a2010019000100")).toBe("E_DUPLICATE_KEY");
    expect(code("a201001b000000000000000100")).toBe("E_DUPLICATE_KEY");
    expect(code("a261610078016100")).toBe("E_DUPLICATE_KEY"); // "a" twice, second with 1-byte length head
    expect(code("a220002000")).toBe("E_DUPLICATE_KEY"); // -1 twice
    expect(code("a2410100410100")).toBe("E_DUPLICATE_KEY"); // h'01' twice
    expect(code("a28101008101" + "00")).toBe("E_DUPLICATE_KEY"); // [1] twice
    // Same value, different major type: not duplicates.
    expect(code("a201002000")).toBe("ok");
    expect(code("a2616100410100".replace("4101", "4161"))).toBe("ok");
    // Nested map duplicates are found too.
    expect(code("a101a201000100")).toBe("E_DUPLICATE_KEY");
  });

  it("[PROTO-11] rejects bytes after the first item as E_TRAILING_BYTES", () => {
    expect(code("0000")).toBe("E_TRAILING_BYTES");
    expect(code("a0ff")).toBe("E_TRAILING_BYTES");
    expect(code("d28040a0")).not.toBe("ok");
  });

  it("[PROTO-12] allows only the root tag it was given; no floats or simple values", () => {
    expect(code("d28440a04040", { rootTag: 18 })).toBe("ok");
    expect(code("d28440a04040")).toBe("E_WRONG_TYPE");
    expect(code("d1834040a0", { rootTag: 18 })).toBe("E_WRONG_TYPE");
    expect(code("d2d28440a04040", { rootTag: 18 })).toBe("E_WRONG_TYPE"); // nested tag
    expect(code("81d240", { rootTag: 18 })).toBe("E_WRONG_TYPE"); // tag not at root
    for (const hex of ["f4", "f5", "f6", "f7", "f820", "f93c00", "fa3f800000", "fb3ff0000000000000", "e0"]) {
      expect(code(hex), hex).toBe("E_WRONG_TYPE");
    }
    expect(code("f810")).toBe("E_MALFORMED_CBOR"); // two-byte simple value < 32 is not well-formed
    expect(code("fb3ff0")).toBe("E_MALFORMED_CBOR"); // truncated float is malformed first
  });

  it("[PROTO-36] decodeCbor never hands cbor-x input the walker refused", () => {
    const r = decodeCbor(fromHex("a201000100"));
    expect(r.ok ? "ok" : r.error.code).toBe("E_DUPLICATE_KEY");
    const good = decodeCbor(fromHex("a201020343010203"));
    expect(good.ok && good.value).toEqual(
      new Map<number, unknown>([
        [1, 2],
        [3, new Uint8Array([1, 2, 3])],
      ]),
    );
  });
});

describe("deterministic encoding", () => {
  it("[PROTO-7] the encoder writes shortest heads and ascending integer keys", () => {
    const bytes = encodeCbor(
      new Map<number, unknown>([
        [1, 1],
        [2, 23],
        [3, 24],
        [4, 255],
        [5, 256],
        [6, 65536],
        [7, 4294967295],
        [8, BigInt(4294967296)],
        [9, "x".repeat(23)],
        [10, "y".repeat(24)],
        [11, new Uint8Array(300)],
        [12, -8],
      ]),
    );
    expect(isDeterministic(bytes)).toBe(true);
    expect(Buffer.from(bytes).toString("hex").slice(0, 40)).toBe("ac010102170318180418ff05190100061a000100");
  });

  it("[PROTO-7] isDeterministic spots long heads and unsorted keys", () => {
    expect(isDeterministic(fromHex("1817"))).toBe(false);
    expect(isDeterministic(fromHex("190001"))).toBe(false);
    expect(isDeterministic(fromHex("a202000100"))).toBe(false);
    expect(isDeterministic(fromHex("a2010002000a"))).toBe(false);
    expect(isDeterministic(fromHex("a201000200"))).toBe(true);
    expect(isDeterministic(fromHex("a20a00182000"))).toBe(true); // 10 < 32 bytewise too
    expect(isDeterministic(fromHex("9f01ff"))).toBe(false);
    expect(isDeterministic(fromHex("0000"))).toBe(false);
  });
});

import { describe, expect, it } from "vitest";
import { limitKey } from "./limit-key.ts";

describe("limitKey", () => {
  it("keeps IPv4 as dotted IPv4, and maps IPv4-mapped IPv6 onto it", () => {
    expect(limitKey("203.0.113.7")).toBe("203.0.113.7");
    expect(limitKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(limitKey("::FFFF:203.0.113.7")).toBe("203.0.113.7");
    expect(limitKey("::ffff:cb00:7107")).toBe("203.0.113.7"); // the same, in hex
    expect(limitKey("0:0:0:0:0:ffff:cb00:7107")).toBe("203.0.113.7");
    expect(limitKey("203.0.113.8")).not.toBe(limitKey("::ffff:203.0.113.7"));
  });

  it("keys NAT64's well-known prefix (64:ff9b::/96) by the IPv4 address it carries", () => {
    expect(limitKey("64:ff9b::203.0.113.7")).toBe("203.0.113.7");
    expect(limitKey("64:ff9b::cb00:7107")).toBe("203.0.113.7");
    expect(limitKey("64:ff9b::198.51.100.9")).toBe("198.51.100.9");
    // Outside the /96 (RFC 8215's local-use 64:ff9b:1::/48): an ordinary /64.
    expect(limitKey("64:ff9b:1::c633:6409")).toBe("64:ff9b:1::/64");
  });

  it("keys IPv6 by its /64 whatever the compression or case", () => {
    const key = "2001:db8:1:2::/64";
    for (const a of [
      "2001:db8:1:2::1",
      "2001:0db8:0001:0002:0000:0000:0000:0001",
      "2001:DB8:1:2:FFFF:FFFF:FFFF:FFFF",
      "2001:db8:1:2:abcd::7",
      "2001:db8:1:2:0:0:0:0",
    ]) {
      expect(limitKey(a), a).toBe(key);
    }
  });

  it("gives different /64s different keys", () => {
    expect(limitKey("2001:db8:1:3::1")).toBe("2001:db8:1:3::/64");
    expect(limitKey("2001:db8:1:2::1")).not.toBe(limitKey("2001:db8:1:3::1"));
    expect(limitKey("2001:db9:1:2::1")).not.toBe(limitKey("2001:db8:1:2::1"));
  });

  it("drops a zone id, whatever characters the interface name has", () => {
    expect(limitKey("fe80::1%eth0")).toBe("fe80::/64");
    expect(limitKey("fe80::2%br-1a2b.5")).toBe("fe80::/64");
    expect(limitKey("fe80::1%")).toBe("fe80::/64");
  });

  it("keys loopback and the unspecified address like any IPv6", () => {
    expect(limitKey("::1")).toBe("::/64");
    expect(limitKey("::")).toBe("::/64");
  });

  it("returns anything unparseable unchanged, without throwing", () => {
    for (const a of [
      "unknown",
      "",
      "[::1]",
      "127.1",
      "0x7f000001",
      "01.2.3.4",
      "1.2.3.4 ",
      "%eth0",
      "2001:db8::1::2",
      "::ffff:1.2.3",
    ]) {
      expect(limitKey(a), a).toBe(a);
    }
  });

  it("takes another prefix length", () => {
    expect(limitKey("2001:db8:1:2::1", 48)).toBe("2001:db8:1::/48");
    expect(limitKey("2001:db8:1:2::1", 56)).toBe(limitKey("2001:db8:1:ff::9", 56));
    expect(limitKey("2001:db8:1:2::1", 128)).toBe("2001:db8:1:2::1/128");
    expect(limitKey("2001:db8:1:2:3:4:5:6", 60)).toBe("2001:db8:1::/60");
    expect(limitKey("::ffff:10.0.0.1", 48)).toBe("10.0.0.1");
    expect(() => limitKey("::1", 129)).toThrow(RangeError);
    expect(() => limitKey("::1", 63.5)).toThrow(RangeError);
  });
});

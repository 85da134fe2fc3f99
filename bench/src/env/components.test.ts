import { describe, expect, it } from "vitest";
import { gatewayReadyParser } from "./components.ts";

describe("gatewayReadyParser", () => {
  it("takes the ports from the serving line and is ready at the public key", () => {
    const ready = gatewayReadyParser();
    const key = "0wj+KnMsYAibh7gOQ5Cw9PyvKvXnenAmgCkzRhsbV1o=";
    expect(ready('{"level":30,"msg":"informer synced"}')).toBeUndefined();
    expect(ready(key)).toBeUndefined(); // a key before the serving line is not trusted
    expect(
      ready("gateway gw-1 serving namespace ns-1: mqtt :40001, http :40002, admin :40003; key /tmp/k.pem"),
    ).toBeUndefined();
    expect(ready("gateway public key (base64; pin it on devices):")).toBeUndefined();
    expect(ready(key)).toEqual({ mqttPort: 40001, adminPort: 40003, publicKey: key });
  });
});

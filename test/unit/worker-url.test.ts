// Workers are found the same way from source, from the image's bundle (CommonJS, whose import.meta.url is
// a build-time path) and from a compiled executable.
import { expect, test } from "bun:test";
import { workerUrl } from "../../ffi/worker-url.ts";

test("from source: the worker's .ts next to the module that starts it", () => {
  expect(
    workerUrl("file:///repo/src/vrrp/service.ts", "src/vrrp/worker.ts", "vrrp-worker", "/repo/src/main.ts"),
  ).toBe("file:///repo/src/vrrp/worker.ts");
});

test("from the image's bundle: the worker's bundle next to the entry point, whatever the module URL says", () => {
  expect(
    workerUrl(
      "file:///build-host/checkout/src/vrrp/service.ts",
      "src/vrrp/worker.ts",
      "vrrp-worker",
      "/usr/lib/fulcrum/fulcrum.js",
    ),
  ).toBe("file:///usr/lib/fulcrum/vrrp-worker.js");
});

test("from a compiled executable: the embedded source path", () => {
  expect(
    workerUrl(
      "file:///$bunfs/root/fulcrum",
      "ffi/fd-watch-worker.ts",
      "fd-watch-worker",
      "/$bunfs/root/fulcrum",
    ),
  ).toBe("/$bunfs/root/ffi/fd-watch-worker.ts");
});

// Bundled by uefi.test.ts and run inside the guest: blesses the running UKI, prints the result as JSON.
import { blessBoot } from "../../src/system/boot.ts";

console.log(JSON.stringify(blessBoot()));

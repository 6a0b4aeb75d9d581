// Where the box's config comes from on boot. The data partition's copy wins; a box without one gets
// a config seeded once: from QEMU's fw_cfg (the lab hands each guest its config that way), or else
// the safe default (console up, no VIPs, no SSH), written so the operator can edit it in place.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { writeFileDurably } from "./durable.ts";

export const CONFIG_PATH = "/data/config/fulcrum.toml";
/** `-fw_cfg name=opt/fulcrum/config.toml,file=...` on the QEMU command line. */
export const FW_CFG_CONFIG = "/sys/firmware/qemu_fw_cfg/by_name/opt/fulcrum/config.toml/raw";

export const DEFAULT_CONFIG_TOML = `# fulcrum safe default: written on a first boot that found no config on the data partition.
# The console works, nothing is load-balanced, no VIP is claimed, SSH is off.
# Edit this file (see docs/config.md and the examples), check it with \`fulcrum check\`, then reboot.
[system]
hostname = "fulcrum"
console = "ttyS0"

[system.ssh]
enabled = false
`;

export type ConfigSource = "data" | "fw_cfg" | "default";

export interface ProvisionResult {
  readonly path: string;
  readonly source: ConfigSource;
}

/** Makes sure `path` exists, seeding it if needed. Throws only if the data partition is unwritable. */
export function provisionConfig(path = CONFIG_PATH, fwCfg = FW_CFG_CONFIG): ProvisionResult {
  if (existsSync(path)) return { path, source: "data" };
  mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
  // Durably: a power cut soon after the first boot must not leave an empty or torn config behind.
  if (existsSync(fwCfg)) {
    writeFileDurably(path, readFileSync(fwCfg));
    return { path, source: "fw_cfg" };
  }
  writeFileDurably(path, DEFAULT_CONFIG_TOML);
  return { path, source: "default" };
}

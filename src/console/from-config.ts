// Maps the [system] section of the box's config to startConsole's options, so `fulcrum run` needs one call.
import type { SystemConfig } from "../config/types.ts";
import type { ApiToken } from "./api/auth.ts";
import type { SshUser } from "./ssh/auth.ts";

export interface ConsoleParts {
  readonly tty?: { readonly device: string };
  readonly ssh?: {
    readonly listen: string;
    readonly port: number;
    readonly hostKeyDir: string;
    readonly users: readonly SshUser[];
  };
  readonly api?: { readonly listen: string; readonly port: number; readonly tokens: readonly ApiToken[] };
}

/** `dataDir` is the data partition's mount point; the SSH host key lives in `${dataDir}/ssh`. */
export function consoleOptionsFromConfig(system: SystemConfig, dataDir: string): ConsoleParts {
  const users: SshUser[] = system.ssh.users.map((u) => ({
    name: u.name,
    role: u.role,
    keys: u.authorized_keys,
  }));
  const token = system.api.token;
  return {
    ...(system.console
      ? { tty: { device: system.console.startsWith("/") ? system.console : `/dev/${system.console}` } }
      : {}),
    ...(system.ssh.enabled
      ? {
          ssh: {
            listen: system.ssh.listen,
            port: system.ssh.port,
            hostKeyDir: `${dataDir.replace(/\/$/, "")}/ssh`,
            users,
          },
        }
      : {}),
    ...(system.api.enabled
      ? {
          api: {
            listen: system.api.listen,
            port: system.api.port,
            // The config has one token today; it is the admin's. Viewer tokens come with per-token config.
            tokens: token ? [{ name: "config", token, role: "admin" as const }] : [],
          },
        }
      : {}),
  };
}

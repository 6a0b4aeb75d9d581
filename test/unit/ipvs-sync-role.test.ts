import { describe, expect, test } from "bun:test";
import { type SyncDaemonPort, type SyncRole, SyncRoleFollower } from "../../src/ipvs/sync-role.ts";
import type { SyncDaemonSpec } from "../../src/netlink/ipvs.ts";

// The kernel's sync daemons, answering after a delay chosen per call, so requests overlap as they do
// when VRRP goes startup -> backup -> master faster than netlink answers.
class SlowKernel implements SyncDaemonPort {
  daemons = new Set<SyncRole>();
  calls: string[] = [];
  failNext = false;
  private n = 0;

  private async delay(): Promise<void> {
    this.n++;
    await Bun.sleep((this.n * 7) % 5);
  }

  async syncDaemons() {
    await this.delay();
    return [...this.daemons].map((state) => ({ state }));
  }

  async startSyncDaemon(spec: SyncDaemonSpec) {
    await this.delay();
    if (this.failNext) {
      this.failNext = false;
      throw new Error("EBUSY");
    }
    if (this.daemons.has(spec.state)) throw new Error("EEXIST");
    this.calls.push(`start ${spec.state}`);
    this.daemons.add(spec.state);
  }

  async stopSyncDaemon(state: SyncRole) {
    await this.delay();
    if (!this.daemons.has(state)) throw new Error("ESRCH");
    this.calls.push(`stop ${state}`);
    this.daemons.delete(state);
  }
}

const spec = (state: SyncRole): SyncDaemonSpec => ({ state, interface: "eth1", syncId: 51 });

describe("the sync daemon's role follows VRRP", () => {
  test("overlapping requests end in the last role asked for, with one daemon, and no kernel error", async () => {
    for (const sequence of [
      ["backup", "master"],
      ["master", "backup", "master"],
      ["backup", "master", "backup", "master", "backup"],
    ] as SyncRole[][]) {
      const kernel = new SlowKernel();
      const outcomes: string[] = [];
      const follower = new SyncRoleFollower(kernel, spec, (o) => outcomes.push(o.ok ? o.role : "failed"));
      await Promise.all(sequence.map((r) => follower.want(r)));
      const last = sequence.at(-1);
      expect([...kernel.daemons]).toEqual([last!]);
      expect(follower.role).toBe(last!);
      expect(outcomes).not.toContain("failed");
      expect(outcomes.at(-1)).toBe(last!);
    }
  });

  test("requests one after another, repeated roles included (FAULT -> BACKUP -> MASTER), all reach the kernel", async () => {
    const kernel = new SlowKernel();
    const follower = new SyncRoleFollower(kernel, spec, () => {});
    for (const role of ["backup", "master", "backup", "backup", "master", "master", "backup"] as SyncRole[]) {
      await follower.want(role);
      expect([...kernel.daemons]).toEqual([role]);
      expect(follower.role).toBe(role);
    }
  });

  test("a daemon left by a previous run in the other role is replaced; the same role is adopted", async () => {
    const kernel = new SlowKernel();
    kernel.daemons.add("master");
    const follower = new SyncRoleFollower(kernel, spec, () => {});
    await follower.want("backup");
    expect(kernel.calls).toEqual(["stop master", "start backup"]);
    const adopting = new SlowKernel();
    adopting.daemons.add("backup");
    await new SyncRoleFollower(adopting, spec, () => {}).want("backup");
    expect(adopting.calls).toEqual([]);
  });

  test("a failed change is retried on its own, without waiting for the next VRRP change", async () => {
    const kernel = new SlowKernel();
    kernel.failNext = true;
    const outcomes: string[] = [];
    const follower = new SyncRoleFollower(kernel, spec, (o) => outcomes.push(o.ok ? o.role : "failed"), [20]);
    await follower.want("backup");
    expect(outcomes).toEqual(["failed"]);
    const deadline = performance.now() + 2_000;
    while (follower.role !== "backup" && performance.now() < deadline) await Bun.sleep(5);
    expect([...kernel.daemons]).toEqual(["backup"]);
    expect(outcomes).toEqual(["failed", "backup"]);
    follower.close();
  });

  test("a failed change is reported and retried by the next request", async () => {
    const kernel = new SlowKernel();
    kernel.failNext = true;
    const outcomes: string[] = [];
    const follower = new SyncRoleFollower(
      kernel,
      spec,
      (o) => outcomes.push(o.ok ? o.role : `failed ${o.error}`),
      [60_000],
    );
    await follower.want("master");
    expect(outcomes).toEqual(["failed EBUSY"]);
    expect(follower.role).toBeNull();
    await follower.want("master");
    expect([...kernel.daemons]).toEqual(["master"]);
    expect(outcomes.at(-1)).toBe("master");
    follower.close();
  });
});

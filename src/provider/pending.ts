/**
 * Provisions started with `wait: false` and not finished yet. Describe reports them (tag
 * `infrakit.state: Provisioning`) so a group controller does not provision again while vCenter
 * is still cloning; a failure drops the entry so the controller provisions again.
 */
import type { InstanceDescription } from '../spi/instance.ts';
import { InfraKitTags } from '../spi/instance.ts';

export interface PendingProvision {
  name: string;
  group: string;
  tags: Record<string, string>;
  logicalId?: string;
  startedAt: number;
  /** Set when destroy was asked before the VM existed: it is destroyed as soon as it does. */
  destroyRequested: boolean;
  /** That destroy, once the VM exists (unset when the provision failed: no VM was made). */
  destroyed?: Promise<void>;
  done: Promise<unknown>;
}

export const PROVISIONING_STATE = 'Provisioning';

export class PendingProvisions {
  private readonly entries = new Map<string, PendingProvision>();

  add(entry: PendingProvision): void {
    this.entries.set(entry.name, entry);
  }

  get(name: string): PendingProvision | undefined {
    return this.entries.get(name);
  }

  delete(name: string): void {
    this.entries.delete(name);
  }

  /** Names of the instances still being provisioned. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  get size(): number {
    return this.entries.size;
  }

  /** Pending instances matching every query tag, as descriptions, except those already found in vCenter. */
  describe(tags: Record<string, string>, alreadyListed: ReadonlySet<string>): InstanceDescription[] {
    const out: InstanceDescription[] = [];
    for (const entry of this.entries.values()) {
      if (entry.destroyRequested || alreadyListed.has(entry.name)) continue;
      if (!Object.entries(tags).every(([k, v]) => entry.tags[k] === v)) continue;
      out.push({
        ID: entry.name,
        ...(entry.logicalId ? { LogicalID: entry.logicalId } : {}),
        Tags: { ...entry.tags, [InfraKitTags.state]: PROVISIONING_STATE },
      });
    }
    return out;
  }

  /** Waits for every pending provision to settle (for close and tests). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.entries.values()].map((e) => e.done));
  }
}

/**
 * Work that goes on after its call returned: provisions with `wait: false`, and clones an earlier
 * process left running.
 */
import { logger } from '../log.ts';
import { InfraKitTags } from '../spi/instance.ts';
import type { GroupFolder } from '../vsphere/folders.ts';
import { type RunningClone, runningClonesInto } from '../vsphere/recovery.ts';
import { destroyNow } from './destroy.ts';
import type { PendingProvision } from './pending.ts';
import { type ProviderState, reportBackground } from './state.ts';

const log = logger('infrakit:vsphere:provider');

/**
 * Reports `work` as a pending instance until it settles; a destroy asked meanwhile runs when
 * the VM exists, and a failure is reported and drops the entry so a controller provisions again.
 */
export function track(
  state: ProviderState,
  instance: { name: string; group: string; tags: Record<string, string>; logicalId?: string },
  work: Promise<unknown>,
): void {
  const { name, group } = instance;
  const entry: PendingProvision = {
    ...instance,
    startedAt: Date.now(),
    destroyRequested: false,
    done: Promise.resolve(),
  };
  // `done` covers the follow-up destroy too, so close() waits for it.
  entry.done = work.then(
    async () => {
      state.pending.delete(name);
      if (entry.destroyRequested) {
        log('%s: destroy was asked while it was being provisioned; destroying it now', name);
        entry.destroyed = destroyNow(state, name, { Reason: 'terminate' }, {}, true);
        await entry.destroyed.catch((error: Error) =>
          reportBackground(state, { operation: 'destroy', id: name, group, error }),
        );
      }
    },
    (error: Error) => {
      state.pending.delete(name);
      reportBackground(state, { operation: 'provision', id: name, group, error });
    },
  );
  state.pending.add(entry);
}

/**
 * The search {@link recoverRunningClones} needs, started ahead (e.g. alongside the read of the
 * folder's VMs, which it does not depend on); undefined once the folder was searched. A search
 * started and then not used fails silently.
 */
export function searchRunningClones(
  state: ProviderState,
  folder: GroupFolder,
): Promise<RunningClone[]> | undefined {
  if (state.recoveredFolders.has(folder.ref.value)) return undefined;
  const search = runningClonesInto(state.client, folder.ref);
  search.catch(() => undefined);
  return search;
}

/**
 * Once per group folder and provider: clones into it that an earlier process started and
 * vCenter still runs become pending entries, followed until their task ends. `listed` gives the
 * names the describe listed (those are not pending). `search` is the search started by
 * {@link searchRunningClones}, if it was; a clone that ended between it and the read of the
 * listed names has its VM among them, so the order of the two does not matter.
 */
export async function recoverRunningClones(
  state: ProviderState,
  folder: GroupFolder,
  group: string,
  listed: () => ReadonlySet<unknown>,
  search?: Promise<RunningClone[]>,
): Promise<void> {
  if (state.recoveredFolders.has(folder.ref.value)) return;
  const clones = await (search ?? runningClonesInto(state.client, folder.ref));
  // Marked only once searched: a failed search (its describe fails with it) is tried again.
  state.recoveredFolders.add(folder.ref.value);
  if (clones.length === 0) return;
  // Made only when needed: a set of every listed name is big for a big group.
  const names = listed();
  for (const clone of clones) {
    if (state.pending.get(clone.name) || names.has(clone.name)) continue;
    log(
      '%s: a clone into group %s started before this process is still running; reported as pending',
      clone.name,
      group,
    );
    track(
      state,
      { name: clone.name, group, tags: { [InfraKitTags.group]: group } },
      state.client.tasks.wait(clone.task, { description: `clone to ${clone.name}` }),
    );
  }
}

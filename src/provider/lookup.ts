/**
 * Finding an instance by ID: the VM of that name whose notes say InfraKit owns it, and what else
 * has the name.
 */
import { logger } from '../log.ts';
import { type ManagedObjectReference, VimFault } from '../vim25/index.ts';
import { AmbiguousNameError } from '../vsphere/errors.ts';
import type { ObjectProperties } from '../vsphere/finder.ts';
import type { InstanceMetadata } from './annotation.ts';
import type { ProviderState } from './state.ts';

const log = logger('infrakit:vsphere:provider');

/** What a look-up of an instance by ID found. */
export interface InstanceLookup {
  /** The instance's VM, when one VM of that name carries InfraKit's notes. */
  found: { vm: ManagedObjectReference; metadata: InstanceMetadata } | undefined;
  /** VMs of that name marked `Deleted by InfraKit` (destroyed with ignore-on-destroy). */
  deleted: ManagedObjectReference[];
  /** VMs of that name that InfraKit does not manage. */
  foreign: ManagedObjectReference[];
  /** Those of `foreign` with no notes at all: a clone whose maker has not written them yet, maybe. */
  blank: ManagedObjectReference[];
}

/**
 * Finds the VM of instance `id` (its name): in the group folders this process knows first,
 * then anywhere in the datacenter(s). Only a VM whose notes say InfraKit owns it is returned;
 * another tool's VM of the same name is never touched.
 */
export async function findInstance(
  state: ProviderState,
  id: string,
): Promise<{ vm: ManagedObjectReference; metadata: InstanceMetadata } | undefined> {
  return (await lookUpInstance(state, id)).found;
}

/**
 * {@link findInstance}, and when it finds no instance, what else has that name: VMs whose notes
 * say they were destroyed with ignore-on-destroy, and VMs InfraKit does not manage.
 */
export async function lookUpInstance(state: ProviderState, id: string): Promise<InstanceLookup> {
  const sort = (candidates: ObjectProperties[]) => {
    const owned: { vm: ManagedObjectReference; metadata: InstanceMetadata }[] = [];
    const deleted: ManagedObjectReference[] = [];
    const foreign: ManagedObjectReference[] = [];
    const blank: ManagedObjectReference[] = [];
    for (const c of candidates) {
      const notes = c.props.get('config.annotation') as string | undefined;
      const decoded = state.codec.decode(notes);
      if (decoded.kind === 'ours' || decoded.kind === 'legacy')
        owned.push({ vm: c.obj, metadata: decoded.metadata });
      else if (decoded.kind === 'deleted') deleted.push(c.obj);
      else {
        foreign.push(c.obj);
        if ((notes ?? '').trim() === '') blank.push(c.obj);
      }
    }
    return { owned, deleted, foreign, blank };
  };
  // A known folder, or a VM found in it, may be gone by now (deleted, or vCenter restarted under
  // a session that was renewed during this look-up): ManagedObjectNotFound there only means "not
  // here", and the datacenter-wide search below decides.
  const gone = (error: unknown) => {
    if (error instanceof VimFault && error.is('ManagedObjectNotFound')) return undefined;
    throw error;
  };
  const known = state.folders.knownFolders();
  const direct = (
    await Promise.all(known.map((f) => state.inventory.findChild(f.ref, id).catch(gone)))
  ).filter((r): r is ManagedObjectReference => r?.type === 'VirtualMachine');
  if (direct.length > 0) {
    const props = await state.client.collector.properties(direct, ['name', 'config.annotation']).catch(gone);
    const hits = props ? sort(props).owned : [];
    if (hits.length === 1) return { found: hits[0], deleted: [], foreign: [], blank: [] };
  }
  const datacenters = state.datacenterName
    ? [await state.inventory.datacenter(state.datacenterName)]
    : await state.inventory.datacenters();
  const candidates = (
    await Promise.all(
      datacenters.map((dc) => state.inventory.vmsNamed(dc.vmFolder, id, ['config.annotation'])),
    )
  ).flat();
  const { owned, deleted, foreign, blank } = sort(candidates);
  if (owned.length > 1) {
    throw new AmbiguousNameError(
      'vm',
      id,
      'vCenter',
      owned.map((h) => h.vm.value),
      'Instance',
    );
  }
  if (owned.length === 0 && candidates.length > 0) {
    log(
      'instance %s: %d VM(s) of that name exist but none is managed by InfraKit; leaving them alone',
      id,
      candidates.length,
    );
  }
  return { found: owned[0], deleted, foreign, blank };
}

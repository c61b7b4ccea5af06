/**
 * The group folder: named exactly the group id, under the datacenter's VM folder (or the
 * `Folder` property's base folder), exactly as the original plugin made it. On a stand-alone
 * ESXi host (no folders: CreateFolder faults NotSupported) the root VM folder holds the group.
 */

import { logger } from '../log.ts';
import type { Session } from '../session/session.ts';
import type { ManagedObjectReference } from '../vim25/index.ts';
import { NotFoundError } from './errors.ts';
import type { DatacenterInfo, Inventory } from './finder.ts';
import { joinInventoryPath, splitInventoryPath } from './paths.ts';
import { isFault } from './vm-ops.ts';

const log = logger('infrakit:vsphere:folders');

export interface GroupFolder {
  ref: ManagedObjectReference;
  /** The folder the group folder sits in (to check a cached reference is still right). */
  parent: ManagedObjectReference;
  /** The name it must have: the group id, or the root VM folder's name on stand-alone hosts. */
  name: string;
  /** True on a stand-alone host: the folder is shared with every other VM. */
  shared: boolean;
}

export interface GroupFoldersOptions {
  session: Session;
  inventory: Inventory;
}

export class GroupFolders {
  private readonly session: Session;
  private readonly inventory: Inventory;
  private readonly known = new Map<string, { generation: number; folder: GroupFolder }>();

  constructor(options: GroupFoldersOptions) {
    this.session = options.session;
    this.inventory = options.inventory;
  }

  private key(dc: DatacenterInfo, group: string, base?: string): string {
    return `${dc.ref.value}\u0000${base ?? ''}\u0000${group}`;
  }

  /** Forgets a cached folder (after it was found deleted, moved or renamed). */
  forget(dc: DatacenterInfo, group: string, base?: string): void {
    this.known.delete(this.key(dc, group, base));
  }

  /** Every group folder this process has used, for destroy's lookup by VM name. */
  knownFolders(): GroupFolder[] {
    return [...this.known.values()]
      .filter((k) => k.generation === this.session.generation)
      .map((k) => k.folder);
  }

  /** The folder group folders go in: the datacenter's VM folder, or `base` (a name or path) in it. */
  async baseFolder(dc: DatacenterInfo, base?: string): Promise<ManagedObjectReference> {
    if (!base) return dc.vmFolder;
    const segments = splitInventoryPath(base);
    const path = base.startsWith('/')
      ? joinInventoryPath(...segments)
      : `${dc.path}/vm${joinInventoryPath(...segments)}`;
    const found = await this.inventory.findByPath(path);
    if (found?.type !== 'Folder')
      throw new NotFoundError('folder', base, `datacenter ${dc.path}`, { field: 'Properties.Folder' });
    return found;
  }

  /** The group's folder if it exists (no creation). */
  async find(dc: DatacenterInfo, group: string, base?: string): Promise<GroupFolder | undefined> {
    const cached = this.known.get(this.key(dc, group, base));
    if (cached && cached.generation === this.session.generation) return cached.folder;
    if (await this.session.isStandaloneHost()) return this.remember(dc, group, base, this.sharedRoot(dc));
    const parent = await this.baseFolder(dc, base);
    const ref = await this.inventory.findChild(parent, group);
    if (ref?.type !== 'Folder') return undefined;
    return this.remember(dc, group, base, { ref, parent, name: group, shared: false });
  }

  /** The group's folder, created when missing (exactly one, however many provisions race). */
  async ensure(dc: DatacenterInfo, group: string, base?: string): Promise<GroupFolder> {
    const existing = await this.find(dc, group, base);
    if (existing) return existing;
    const parent = await this.baseFolder(dc, base);
    try {
      const ref = await this.inventory.ensureFolder(parent, group);
      return this.remember(dc, group, base, { ref, parent, name: group, shared: false });
    } catch (error) {
      if (isFault(error, 'NotSupported')) {
        log('folders not supported here (stand-alone host): group %s uses the root VM folder', group);
        return this.remember(dc, group, base, this.sharedRoot(dc));
      }
      throw error;
    }
  }

  private sharedRoot(dc: DatacenterInfo): GroupFolder {
    return { ref: dc.vmFolder, parent: dc.ref, name: 'vm', shared: true };
  }

  private remember(
    dc: DatacenterInfo,
    group: string,
    base: string | undefined,
    folder: GroupFolder,
  ): GroupFolder {
    this.known.set(this.key(dc, group, base), { generation: this.session.generation, folder });
    return folder;
  }
}

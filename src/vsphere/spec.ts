/**
 * What the builders make: a VM described in vCenter's terms (placement, datastore, template or
 * ISO, CPUs, memory, disks, NICs, machine config), with no InfraKit in it. The provider maps its
 * properties to this shape; a library user can fill it in directly.
 */

import type { DiskSpec } from './disks.ts';
import type { MachineShape } from './machine.ts';

/** A NIC of the VM, in device order. */
export interface NicSpec {
  /** Network (port group, distributed port group or opaque network) name. */
  network: string;
  /** Manual MAC address, lower case; absent: vCenter generates one. */
  mac?: string;
}

/** An extraConfig entry: a vim25 `OptionValue` (`_type`, `key`, `value`). */
export type ExtraConfigOption = Record<string, unknown>;

/**
 * What the guest learns about itself, rendered by the caller: the builders only write it. Both
 * hooks are optional; without them no guest metadata is written.
 */
export interface GuestMetadata {
  /**
   * The extraConfig entries the guest reads (cloud-init's metadata, say), given the MACs of the
   * VM's NICs in device order (undefined while vCenter has not assigned them all). Answers `[]`
   * when there is nothing to write, undefined when the entries need MACs not known yet: the
   * builder calls it again once the NICs have their MACs.
   */
  extraConfig?(macs: readonly string[] | undefined): ExtraConfigOption[] | undefined;
  /**
   * A clone's vSphere guest customization (`CustomizationSpec`), given how many NICs the
   * template has (the spec needs one adapter setting per NIC when the VM keeps the template's).
   */
  customization?(templateNics: number): Record<string, unknown>;
}

/** Where the VM runs; none given: the datacenter's only cluster or host. */
export interface PlacementChoice {
  resourcePool?: string;
  cluster?: string;
  host?: string;
}

/** A VM to build: by clone of `template`, or around the ISO `isoPath` when no template is given. */
export interface VmSpec extends MachineShape {
  /** Datastore of the VM's files and disks. */
  datastore: string;
  placement?: PlacementChoice;
  /** Template to clone (name or inventory path). */
  template?: string;
  /** Clone from the template's current snapshot, sharing its disks. */
  linkedClone?: boolean;
  /** ISO to boot, as a path on `isoDatastore` (default `datastore`); for VMs made without a template. */
  isoPath?: string;
  isoDatastore?: string;
  /** vCenter guest OS identifier of an ISO VM; absent: `otherLinux64Guest`. */
  guestId?: string;
  cpus?: number;
  memoryMB?: number;
  /** A thin disk of this size is added (once) when the VM has none of it. */
  diskMB?: number;
  /** Clones: the first virtual disk is grown to this size. */
  rootDiskMB?: number;
  /** Disks added after the VM's own, in order. */
  disks?: readonly DiskSpec[];
  /** The NICs, in device order; absent or empty: a clone keeps the template's, an ISO VM has none. */
  nics?: readonly NicSpec[];
  /** Power the VM on once built. */
  powerOn?: boolean;
  guest?: GuestMetadata;
  /**
   * The name, in the caller's terms, of a field of this spec, for the errors the build raises
   * about it (`datastore`, `template`, `linkedClone`, `rootDiskMB`, `disks`, `isoDatastore`,
   * `nics[0].network`, `disks[1].datastore`). Absent: the spec's own path.
   */
  field?: (path: string) => string;
}

/** The caller's name of a field of `spec` (see {@link VmSpec.field}). */
export function specField(spec: Pick<VmSpec, 'field'>, path: string): string {
  return spec.field?.(path) ?? path;
}

/**
 * Pure planning of a VM's disks: growing the first disk of a clone (`RootDiskMB`) and adding the
 * `Disks` after the VM's own on free SCSI slots, with new paravirtual controllers when the
 * existing ones are full. No I/O: the builders put the result in the clone or create spec, and
 * run it again on what vCenter made to repair what it dropped.
 */

import { ValidationError } from '../errors.ts';

/** How a disk's blocks are allocated: vSphere's thin, lazy-zeroed thick, eager-zeroed thick. */
export type DiskProvisioning = 'thin' | 'thick' | 'eagerZeroedThick';

/** A disk added to a VM (the `Disks` property's entries). */
export interface DiskSpec {
  sizeMB: number;
  provisioning: DiskProvisioning;
  /** Datastore name; absent: the VM's own datastore. */
  datastore?: string;
}

type Spec = Record<string, unknown>;
type Device = Record<string, unknown> & { _type?: string; key?: number };

/** SCSI controller types a disk can sit on. */
export const SCSI_CONTROLLER_TYPES: ReadonlySet<string> = new Set([
  'ParaVirtualSCSIController',
  'VirtualLsiLogicController',
  'VirtualLsiLogicSASController',
  'VirtualBusLogicController',
  'VirtualSCSIController',
]);

/** SCSI buses a VM can have (vSphere's maximum of 4 SCSI controllers). */
export const MAX_SCSI_CONTROLLERS = 4;
/** Unit numbers of a SCSI bus: 0..15, of which 7 is the controller's own. */
const SCSI_UNITS = 16;
const SCSI_CONTROLLER_UNIT = 7;

/** A disk's size in MB, from `capacityInBytes` when set (newer vCenters), else `capacityInKB`. */
export function diskSizeMB(disk: Device): number {
  const bytes = Number(disk.capacityInBytes ?? 0);
  if (bytes > 0) return bytes / (1024 * 1024);
  return Number(disk.capacityInKB ?? 0) / 1024;
}

export function disksOf(devices: readonly Device[]): Device[] {
  return devices.filter((d) => d._type === 'VirtualDisk');
}

/**
 * The VM's first disk: the one on the lowest controller bus and unit (the boot disk of a
 * template), not the first in the list, which vCenter (and vcsim, after an edit) may reorder.
 */
export function firstDisk(devices: readonly Device[]): Device | undefined {
  const busOf = new Map<number, number>();
  for (const d of devices) {
    if (typeof d.key === 'number' && d.busNumber !== undefined) busOf.set(d.key, Number(d.busNumber));
  }
  const rank = (d: Device): [number, number, number] => [
    busOf.get(Number(d.controllerKey)) ?? Number.MAX_SAFE_INTEGER,
    Number(d.unitNumber ?? Number.MAX_SAFE_INTEGER),
    Number(d.key ?? 0),
  ];
  return disksOf(devices).sort((a, b) => {
    const [ra, rb] = [rank(a), rank(b)];
    return ra[0] - rb[0] || ra[1] - rb[1] || ra[2] - rb[2];
  })[0];
}

/**
 * Why `RootDiskMB` cannot be applied to a template with `templateDevices` (it has no disk, or its
 * first disk is larger: vCenter never shrinks a disk), or undefined when it can.
 */
export function rootDiskProblem(
  templateDevices: readonly Device[],
  rootDiskMB: number | undefined,
  template: string,
): string | undefined {
  if (rootDiskMB === undefined) return undefined;
  const root = firstDisk(templateDevices);
  if (!root) return `template "${template}" has no disk to grow`;
  const size = diskSizeMB(root);
  if (size > rootDiskMB) {
    return `${rootDiskMB} MB is smaller than the first disk of template "${template}" (${size} MB); a disk cannot shrink`;
  }
  return undefined;
}

/** An edit that grows `disk` to `sizeMB` (both capacity fields: one left 0 would shrink it to 0). */
export function growDisk(disk: Device, sizeMB: number): Spec {
  const device: Spec = {};
  for (const field of ['_type', 'key', 'backing', 'controllerKey', 'unitNumber']) {
    if (disk[field] !== undefined) device[field] = disk[field];
  }
  device.capacityInKB = sizeMB * 1024;
  device.capacityInBytes = sizeMB * 1024 * 1024;
  return { _type: 'VirtualDeviceConfigSpec', operation: 'edit', device };
}

/** A new disk of `sizeMB`, created in the VM's folder on `datastoreName`. */
export function addDisk(
  key: number,
  controllerKey: number,
  unitNumber: number,
  sizeMB: number,
  provisioning: DiskProvisioning,
  datastoreName: string,
): Spec {
  return {
    _type: 'VirtualDeviceConfigSpec',
    operation: 'add',
    fileOperation: 'create',
    device: {
      _type: 'VirtualDisk',
      key,
      backing: {
        _type: 'VirtualDiskFlatVer2BackingInfo',
        fileName: `[${datastoreName}]`,
        diskMode: 'persistent',
        thinProvisioned: provisioning === 'thin',
        ...(provisioning === 'thin' ? {} : { eagerlyScrub: provisioning === 'eagerZeroedThick' }),
      },
      controllerKey,
      unitNumber,
      capacityInKB: sizeMB * 1024,
      capacityInBytes: sizeMB * 1024 * 1024,
    },
  };
}

/**
 * The changes that add `disks` after the disks in `devices`: each on the first free unit of the
 * SCSI controllers in bus order (unit 7 is the controller's), then on a new paravirtual
 * controller on the next free bus when they are full. New devices get keys from `firstKey`
 * downwards (negative keys are placeholders vCenter replaces).
 *
 * @throws ValidationError (field `field`) when the disks do not fit on 4 SCSI controllers.
 */
export function addDisks(
  devices: readonly Device[],
  disks: readonly DiskSpec[],
  vmDatastore: string,
  firstKey: number,
  field: string,
): Spec[] {
  const changes: Spec[] = [];
  let nextKey = firstKey;
  const controllers = devices
    .filter((d) => SCSI_CONTROLLER_TYPES.has(d._type ?? '') && typeof d.key === 'number')
    .map((d) => ({ key: d.key as number, bus: Number(d.busNumber ?? 0) }))
    .sort((a, b) => a.bus - b.bus);
  const used = new Map<number, Set<number>>();
  for (const c of controllers) used.set(c.key, new Set([SCSI_CONTROLLER_UNIT]));
  for (const d of devices) {
    const units = used.get(Number(d.controllerKey));
    if (units && d.unitNumber !== undefined) units.add(Number(d.unitNumber));
  }
  const freeSlot = (): { controllerKey: number; unit: number } | undefined => {
    for (const c of controllers) {
      const units = used.get(c.key)!;
      for (let unit = 0; unit < SCSI_UNITS; unit++) {
        if (!units.has(unit)) return { controllerKey: c.key, unit };
      }
    }
    return undefined;
  };
  for (const disk of disks) {
    let slot = freeSlot();
    if (!slot) {
      const buses = new Set(controllers.map((c) => c.bus));
      let bus = 0;
      while (buses.has(bus)) bus++;
      if (controllers.length >= MAX_SCSI_CONTROLLERS || bus >= MAX_SCSI_CONTROLLERS) {
        throw new ValidationError(
          [
            {
              field,
              message: `no free SCSI slot: the VM's ${controllers.length} SCSI controllers are full (at most ${MAX_SCSI_CONTROLLERS} controllers of 15 disks each)`,
            },
          ],
          'cannot add the disks',
        );
      }
      const key = nextKey--;
      changes.push({
        _type: 'VirtualDeviceConfigSpec',
        operation: 'add',
        device: { _type: 'ParaVirtualSCSIController', key, busNumber: bus, sharedBus: 'noSharing' },
      });
      controllers.push({ key, bus });
      used.set(key, new Set([SCSI_CONTROLLER_UNIT]));
      slot = { controllerKey: key, unit: 0 };
    }
    used.get(slot.controllerKey)!.add(slot.unit);
    changes.push(
      addDisk(
        nextKey--,
        slot.controllerKey,
        slot.unit,
        disk.sizeMB,
        disk.provisioning,
        disk.datastore ?? vmDatastore,
      ),
    );
  }
  return changes;
}

/**
 * What the VM in `devices` still needs of `RootDiskMB` and `Disks`: the first disk grown, and the
 * `Disks` not there yet added. `baseDiskCount` is how many disks the VM has of its own (the
 * template's): disks beyond it are taken for the first of `Disks`, in order.
 */
export function diskChanges(
  devices: readonly Device[],
  props: { rootDiskMB?: number; disks?: readonly DiskSpec[]; datastore: string },
  baseDiskCount: number,
  firstKey: number,
  field: string,
): Spec[] {
  const changes: Spec[] = [];
  if (props.rootDiskMB !== undefined) {
    const root = firstDisk(devices);
    if (root && diskSizeMB(root) < props.rootDiskMB) changes.push(growDisk(root, props.rootDiskMB));
  }
  if (props.disks) {
    const added = Math.max(0, disksOf(devices).length - baseDiskCount);
    const missing = props.disks.slice(added);
    if (missing.length > 0) changes.push(...addDisks(devices, missing, props.datastore, firstKey, field));
  }
  return changes;
}

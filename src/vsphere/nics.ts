/**
 * The NICs of a VM: how they are read back in device order,
 * and the device changes that make a VM's NICs exactly those (a clone reuses the template's first
 * NIC, removes the template's extra ones and adds what is missing as vmxnet3).
 *
 * Pure: no I/O.
 */

import { ManagedObjectReference } from '../vim25/index.ts';
import { nicBacking } from './devices.ts';
import type { NetworkInfo } from './finder.ts';
import type { NicSpec } from './spec.ts';

type Spec = Record<string, unknown>;
type Device = Record<string, unknown> & { _type?: string; key?: number };

/** A NIC asked for, with its network found in the inventory. */
export interface ResolvedNic {
  nic: NicSpec;
  network: NetworkInfo;
}

export const NIC_TYPES: ReadonlySet<string> = new Set([
  'VirtualVmxnet3',
  'VirtualVmxnet3Vrdma',
  'VirtualVmxnet',
  'VirtualVmxnet2',
  'VirtualE1000',
  'VirtualE1000e',
  'VirtualPCNet32',
  'VirtualSriovEthernetCard',
  'VirtualEthernetCard',
]);

/** Keys of NICs added by a build start here (below the other builders' temporary keys). */
const NEW_NIC_KEY = -300;

/**
 * A VM's NICs in device (PCI) order. vCenter lists an edited device last and may give added NICs
 * keys below the template's, so neither list position nor key is the order the guest sees.
 */
export function orderedNics(devices: readonly Device[]): Device[] {
  const slot = (d: Device) => {
    const pci = (d.slotInfo as { pciSlotNumber?: number } | undefined)?.pciSlotNumber;
    return Number(d.unitNumber ?? pci ?? Number.MAX_SAFE_INTEGER);
  };
  return devices
    .filter((d) => NIC_TYPES.has(d._type ?? ''))
    .sort((a, b) => slot(a) - slot(b) || Number(a.key ?? 0) - Number(b.key ?? 0));
}

/** The MAC vCenter reports for a NIC, lower case ('' when none yet). */
export function macOf(device: Device): string {
  return String(device.macAddress ?? '').toLowerCase();
}

/** Is the NIC attached to `network`? */
export function onNetwork(nic: Device, network: NetworkInfo): boolean {
  const backing = nic.backing as Record<string, unknown> | undefined;
  if (!backing) return false;
  const wanted = nicBacking(network);
  if (backing._type !== wanted._type) return false;
  if (network.ref.type === 'DistributedVirtualPortgroup') {
    return (backing.port as { portgroupKey?: string } | undefined)?.portgroupKey === network.portgroupKey;
  }
  if (network.ref.type === 'OpaqueNetwork') return backing.opaqueNetworkId === network.opaqueNetworkId;
  const ref = backing.network;
  return ref instanceof ManagedObjectReference
    ? ref.equals(network.ref)
    : backing.deviceName === network.name;
}

/** Is the NIC as asked: on its network, and with its manual MAC when one is given? */
export function nicMatches(device: Device, wanted: ResolvedNic): boolean {
  if (!onNetwork(device, wanted.network)) return false;
  if (wanted.nic.mac === undefined) return true;
  return device.addressType === 'manual' && macOf(device) === wanted.nic.mac;
}

const connected = (): Spec => ({
  _type: 'VirtualDeviceConnectInfo',
  startConnected: true,
  allowGuestControl: true,
  connected: true,
});

/** Adds a vmxnet3 NIC on the network, with the manual MAC when one is given. */
export function addNic(key: number, wanted: ResolvedNic): Spec {
  return {
    _type: 'VirtualDeviceConfigSpec',
    operation: 'add',
    device: {
      _type: 'VirtualVmxnet3',
      key,
      backing: nicBacking(wanted.network),
      connectable: connected(),
      addressType: wanted.nic.mac === undefined ? 'generated' : 'manual',
      ...(wanted.nic.mac === undefined ? {} : { macAddress: wanted.nic.mac }),
    },
  };
}

/** Fields of a NIC that an edit carries over; the rest (slot info, resource allocation, ...) vCenter keeps. */
const NIC_EDIT_FIELDS = ['_type', 'key', 'controllerKey', 'unitNumber', 'wakeOnLanEnabled'];

/**
 * Re-points an existing NIC at its network, and sets its manual MAC when one is given. A manual
 * MAC the NIC had (a template's) is not kept: it would be the same in every clone.
 */
export function editNic(device: Device, wanted: ResolvedNic): Spec {
  const edited: Spec = {};
  for (const field of NIC_EDIT_FIELDS) if (device[field] !== undefined) edited[field] = device[field];
  edited.backing = nicBacking(wanted.network);
  edited.connectable = connected();
  if (wanted.nic.mac !== undefined) {
    edited.addressType = 'manual';
    edited.macAddress = wanted.nic.mac;
  } else if (device.addressType === 'manual') {
    edited.addressType = 'generated';
  } else if (device.addressType !== undefined) {
    edited.addressType = device.addressType;
    if (device.macAddress !== undefined) edited.macAddress = device.macAddress;
  }
  return { _type: 'VirtualDeviceConfigSpec', operation: 'edit', device: edited };
}

/** Removes a NIC (a template's NIC beyond those asked for). */
export function removeNic(device: Device): Spec {
  const removed: Spec = { _type: device._type, key: device.key };
  if (device.controllerKey !== undefined) removed.controllerKey = device.controllerKey;
  if (device.unitNumber !== undefined) removed.unitNumber = device.unitNumber;
  return { _type: 'VirtualDeviceConfigSpec', operation: 'remove', device: removed };
}

/**
 * The changes that make a VM's NICs exactly `wanted`, in order: NIC i is kept when it matches,
 * re-backed when not, added when missing; NICs beyond the list are removed.
 */
export function nicChanges(devices: readonly Device[], wanted: readonly ResolvedNic[]): Spec[] {
  const existing = orderedNics(devices);
  const changes: Spec[] = [];
  wanted.forEach((want, index) => {
    const device = existing[index];
    if (!device) changes.push(addNic(NEW_NIC_KEY - index, want));
    else if (!nicMatches(device, want)) changes.push(editNic(device, want));
  });
  for (const extra of existing.slice(wanted.length)) changes.push(removeNic(extra));
  return changes;
}

/**
 * The MACs of the VM's NICs in order, when its NICs are exactly `wanted` and each has a MAC;
 * otherwise undefined (a repair is still due, or vCenter has not assigned the MACs yet).
 */
export function nicMacs(devices: readonly Device[], wanted: readonly ResolvedNic[]): string[] | undefined {
  const existing = orderedNics(devices);
  if (existing.length !== wanted.length) return undefined;
  const macs = existing.map(macOf);
  if (macs.some((mac) => mac === '')) return undefined;
  if (wanted.some((want, index) => !nicMatches(existing[index]!, want))) return undefined;
  return macs;
}

/** The MACs when every NIC has a manual one (the guest's metadata can then be written up front). */
export function manualMacs(wanted: readonly ResolvedNic[]): string[] | undefined {
  const macs = wanted.map((w) => w.nic.mac);
  return macs.every((mac): mac is string => mac !== undefined) ? macs : undefined;
}

/**
 * Pure builders of the vim25 device and config specs an InfraKit VM needs. No I/O: the clone and
 * ISO modules decide when to send them.
 */

import type { ManagedObjectReference } from '../vim25/index.ts';
import { addDisk } from './disks.ts';
import type { NetworkInfo } from './finder.ts';

type Spec = Record<string, unknown>;

/** vCenter's default IDE controller of a new VM (keys 200 and 201 are created with every VM). */
export const DEFAULT_IDE_CONTROLLER_KEY = 200;

const connected = (): Spec => ({
  _type: 'VirtualDeviceConnectInfo',
  startConnected: true,
  allowGuestControl: true,
  connected: true,
});

/** The backing that attaches a NIC to a standard network, a distributed port group or an NSX network. */
export function nicBacking(network: NetworkInfo): Spec {
  if (network.ref.type === 'DistributedVirtualPortgroup') {
    return {
      _type: 'VirtualEthernetCardDistributedVirtualPortBackingInfo',
      port: {
        _type: 'DistributedVirtualSwitchPortConnection',
        switchUuid: network.switchUuid ?? '',
        portgroupKey: network.portgroupKey ?? network.ref.value,
      },
    };
  }
  if (network.ref.type === 'OpaqueNetwork') {
    return {
      _type: 'VirtualEthernetCardOpaqueNetworkBackingInfo',
      opaqueNetworkId: network.opaqueNetworkId ?? '',
      opaqueNetworkType: network.opaqueNetworkType ?? '',
    };
  }
  return { _type: 'VirtualEthernetCardNetworkBackingInfo', deviceName: network.name, network: network.ref };
}

export function addPvscsi(key: number): Spec {
  return {
    _type: 'VirtualDeviceConfigSpec',
    operation: 'add',
    device: { _type: 'ParaVirtualSCSIController', key, busNumber: 0, sharedBus: 'noSharing' },
  };
}

/** `[datastore] path/in/datastore.iso`, the datastore path form vCenter uses. */
export function datastorePath(datastore: string, path: string): string {
  return `[${datastore}] ${path.replace(/^\/+/, '')}`;
}

export function addIsoCdrom(
  key: number,
  isoFile: string,
  datastore: ManagedObjectReference | undefined,
): Spec {
  return {
    _type: 'VirtualDeviceConfigSpec',
    operation: 'add',
    device: {
      _type: 'VirtualCdrom',
      key,
      backing: {
        _type: 'VirtualCdromIsoBackingInfo',
        fileName: isoFile,
        ...(datastore ? { datastore } : {}),
      },
      connectable: connected(),
      controllerKey: DEFAULT_IDE_CONTROLLER_KEY,
      unitNumber: 0,
    },
  };
}

/** A thin disk of `sizeMB` (`DiskMB`), created in the VM's folder on `datastoreName`. */
export function addThinDisk(
  key: number,
  controllerKey: number,
  unitNumber: number,
  sizeMB: number,
  datastoreName: string,
): Spec {
  return addDisk(key, controllerKey, unitNumber, sizeMB, 'thin', datastoreName);
}

/**
 * `Spec.Init` for the guest: cloud-init's VMware datasource and LinuxKit's metadata reader take
 * `guestinfo.userdata` with `guestinfo.userdata.encoding` = `base64`.
 */
export function userdataExtraConfig(init: string | undefined): Spec[] {
  if (init === undefined || init === '') return [];
  return [
    { _type: 'OptionValue', key: 'guestinfo.userdata', value: Buffer.from(init, 'utf8').toString('base64') },
    { _type: 'OptionValue', key: 'guestinfo.userdata.encoding', value: 'base64' },
  ];
}

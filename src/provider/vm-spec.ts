/**
 * The properties of a provision as the object layer's {@link VmSpec}: the VM's shape, the guest
 * metadata the properties ask for (cloud-init or vSphere customization) rendered here, and the
 * property names the build's errors give (`Properties.Disks[1].Datastore`).
 */

import type { GuestMetadata, NicSpec, VmSpec } from '../vsphere/spec.ts';
import { guestExtraConfig, guestHostname, ipv4Addresses, vsphereCustomization } from './cloud-init.ts';
import type { VMProperties } from './properties.ts';
import type { NicProperties } from './properties-network.ts';

/** The NICs the properties ask for: `Networks`, else the `Network` shorthand (one DHCP NIC), else none. */
export function wantedNics(props: Pick<VMProperties, 'nics' | 'network'>): NicProperties[] {
  if (props.nics) return props.nics;
  return props.network === undefined ? [] : [dhcpNic(props.network)];
}

/** A NIC on `network` configured by DHCP (IPv4). */
export function dhcpNic(network: string): NicProperties {
  return { network, dhcp4: true, ipv4: [], dhcp6: false, ipv6: [] };
}

/** Field of the network name of NIC `index`, for NotFound messages. */
export function nicNetworkField(
  props: Pick<VMProperties, 'nics'>,
  index: number,
  root = 'Properties',
): string {
  return props.nics ? `${root}.Networks[${index}].Network` : `${root}.Network`;
}

/** The property of each {@link VmSpec} field the build may name in an error. */
const FIELDS: Readonly<Record<string, string>> = {
  datastore: 'Properties.Datastore',
  template: 'Properties.Template',
  linkedClone: 'Properties.LinkedClone',
  rootDiskMB: 'Properties.RootDiskMB',
  disks: 'Properties.Disks',
  isoDatastore: 'Properties.ISODatastore',
};

/** The property a {@link VmSpec} field comes from, as users wrote it. */
export function propertyField(props: Pick<VMProperties, 'nics'>, path: string): string {
  const nic = /^nics\[(\d+)\]\.network$/.exec(path);
  if (nic) return nicNetworkField(props, Number(nic[1]));
  const disk = /^disks\[(\d+)\]\.datastore$/.exec(path);
  if (disk) return `Properties.Disks[${disk[1]}].Datastore`;
  return FIELDS[path] ?? `Properties.${path}`;
}

/**
 * The guest metadata of VM `name`: cloud-init's (which names the NICs by MAC, so it is rendered
 * once the MACs are known) or a clone's vSphere customization; none for `Customization: none`.
 */
export function guestMetadata(
  name: string,
  props: VMProperties,
  logicalId: string | undefined,
): GuestMetadata | undefined {
  const nics = wantedNics(props);
  if (props.customization === 'cloud-init') {
    const request = { name, ...(logicalId !== undefined ? { logicalId } : {}), props, nics };
    return { extraConfig: (macs) => guestExtraConfig(request, macs) };
  }
  if (props.customization === 'vsphere') {
    return {
      customization: (templateNics) =>
        vsphereCustomization(
          guestHostname({ name, props }),
          props,
          // vCenter needs one adapter setting per NIC: the template's own NICs get DHCP.
          nics.length > 0
            ? nics.map((nic) => ({ nic, ipv4: ipv4Addresses(nic, logicalId) }))
            : Array.from({ length: templateNics }, () => ({ nic: dhcpNic(''), ipv4: [] })),
        ),
    };
  }
  return undefined;
}

/** `value` without its undefined fields: the builders copy some fields into vCenter specs. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** The VM that the properties of instance `name` describe. */
export function vmSpecOf(name: string, props: VMProperties, logicalId?: string): VmSpec {
  const nics: NicSpec[] = wantedNics(props);
  return defined<VmSpec>({
    datastore: props.datastore,
    placement: defined({
      resourcePool: props.resourcePool || undefined,
      cluster: props.cluster || undefined,
      host: props.host || undefined,
    }),
    template: props.template,
    linkedClone: props.linkedClone,
    isoPath: props.isoPath,
    isoDatastore: props.isoDatastore,
    guestId: props.guestId,
    cpus: props.cpus,
    memoryMB: props.memoryMB,
    diskMB: props.diskMB,
    rootDiskMB: props.rootDiskMB,
    disks: props.disks,
    coresPerSocket: props.coresPerSocket,
    cpuHotAdd: props.cpuHotAdd,
    memoryHotAdd: props.memoryHotAdd,
    firmware: props.firmware,
    secureBoot: props.secureBoot,
    hardwareVersion: props.hardwareVersion,
    extraConfig: props.extraConfig,
    nics,
    powerOn: props.powerOn,
    guest: guestMetadata(name, props, logicalId),
    field: (path) => propertyField(props, path),
  });
}

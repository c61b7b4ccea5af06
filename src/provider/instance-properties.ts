/**
 * The instance properties as a TypeScript type, for code that writes them (the JSON path of the
 * plugin and the CLI takes any JSON and checks it at run time with the same rules). Every key
 * `parseProperties` accepts is here, both spellings, and no other (a test keeps the two in step),
 * so a misspelt key is a compile error. docs/properties.md has the full rules.
 */
import type { DiskProvisioning, PowerOffMode } from './properties-machine.ts';
import type { CustomizationKind } from './properties-network.ts';

/** One NIC of {@link InstanceProperties.Networks}, in device order. */
export interface InstanceNic {
  /** Standard port group, distributed port group or NSX network the NIC joins. Required. */
  Network: string;
  /** Manual MAC in VMware's range `00:50:56:00:00:00`–`00:50:56:3f:ff:ff`. Default: generated. */
  MAC?: string;
  /** IPv4 by DHCP. Default: `true` exactly when no IPv4 address is given. */
  DHCP4?: boolean;
  /** Static IPv4 addresses in CIDR form, e.g. `["10.0.0.10/24"]`. */
  IPv4?: string[];
  /** Default IPv4 route; only with a static IPv4 address. */
  Gateway4?: string;
  /** IPv6 by DHCP. Default `false`. */
  DHCP6?: boolean;
  /** Static IPv6 addresses in CIDR form, e.g. `["fd00::10/64"]`. */
  IPv6?: string[];
  /** Default IPv6 route; only with a static IPv6 address. */
  Gateway6?: string;
  /** MTU, 68..9000 (cloud-init only). */
  MTU?: number;
  /** The instance's LogicalID is this NIC's IPv4 address, with this prefix length (0..32). */
  IPv4FromLogicalID?: number;
}

/** One disk of {@link InstanceProperties.Disks}, added after the VM's own. */
export interface InstanceDisk {
  /** Size in MB. Required. */
  SizeMB: number;
  /** Default `"thin"`. */
  Provisioning?: DiskProvisioning;
  /** Datastore of the disk's file. Default: the VM's. */
  Datastore?: string;
}

/**
 * The `Properties` of an instance spec. Exactly one of `Template` and `ISOPath`.
 *
 * @example
 * ```ts
 * const properties: InstanceProperties = {
 *   Template: 'templates/ubuntu-24.04',
 *   Cluster: 'Compute',
 *   CPUs: 2,
 *   Memory: 4096,
 *   Networks: [{ Network: 'VM Network', IPv4: ['10.0.0.10/24'], Gateway4: '10.0.0.1' }],
 *   PowerOn: true,
 * };
 * ```
 */
export interface InstanceProperties {
  /** Datacenter name or path. Default: the provider's `datacenter`, else the only one. */
  Datacenter?: string;
  /** Datastore for the VM's files. Default: the provider's `datastore` (one of them is required). */
  Datastore?: string;
  /** Datastore holding the ISO, when not `Datastore`; only with `ISOPath`. */
  ISODatastore?: string;
  /** ESXi host to place the VM on. Default: the provider's `host` when no placement is named. */
  Hostname?: string;
  /** Cluster (name or path) whose root resource pool receives the VM. */
  Cluster?: string;
  /** Resource pool (name or path); wins over the cluster's or host's root pool. */
  ResourcePool?: string;
  /** Base folder of the group folders. Default: the datacenter's VM folder. */
  Folder?: string;
  /** Shorthand for one DHCP NIC on this network; not with `Networks`. Default: the provider's `network`. */
  Network?: string;
  /** Template (or VM) to clone, name or path. */
  Template?: string;
  /** ISO to boot: `iso/linuxkit.iso` in `ISODatastore`/`Datastore`, or `[isos] iso/linuxkit.iso`. */
  ISOPath?: string;
  /** @deprecated The original plugin's spelling of {@link InstanceProperties.ISOPath}. */
  isoPath?: string;
  /** VM name prefix. Default: the provider's `vmPrefix`, else `vm`. */
  VMPrefix?: string;
  /** @deprecated The original plugin's spelling of {@link InstanceProperties.VMPrefix}. */
  vmPrefix?: string;
  /** Virtual CPUs, 1..768. Default: the template's; an ISO VM 1. */
  CPUs?: number;
  /** Memory in MB, a multiple of 4. Default: the template's; an ISO VM 1024. */
  Memory?: number;
  /** @deprecated The original plugin's spelling of {@link InstanceProperties.Memory}. */
  MEM?: number;
  /** One extra thin disk of this many MB (an ISO VM's only disk). Not with `Disks`. */
  DiskMB?: number;
  /** @deprecated The original plugin's spelling of {@link InstanceProperties.DiskMB}. */
  persistantSZ?: number;
  /** Power the VM on once made. Default `false`. */
  PowerOn?: boolean;
  /** A linked clone from the template's current snapshot; only with `Template`. Default `false`. */
  LinkedClone?: boolean;
  /** Guest OS identifier of an ISO VM. Default `otherLinux64Guest`. */
  GuestId?: string;
  /** Text kept in the VM notes after the metadata lines, at most 16384 UTF-8 bytes. */
  Annotation?: string;
  /** Provision waits until the guest reports a routable IP; needs `PowerOn: true`. */
  WaitForIP?: boolean;
  /** How long `WaitForIP` waits, 1..86400 s. Default 300. */
  WaitForIPTimeoutSeconds?: number;
  /** The VM's NICs, 1..10, in device order. Not with `Network`. */
  Networks?: InstanceNic[];
  /** DNS servers of the guest. */
  Nameservers?: string[];
  /** DNS search domains of the guest. */
  SearchDomains?: string[];
  /** The guest's host name. Default: the VM name. */
  GuestHostname?: string;
  /** The guest's DNS domain. */
  Domain?: string;
  /** How the guest learns its identity and network. Default: `cloud-init` when any is given, else `none`. */
  Customization?: CustomizationKind;
  /** Grow the clone's first disk to this many MB; clones only. */
  RootDiskMB?: number;
  /** Disks added after the VM's own, 1..16. Not with `DiskMB`. */
  Disks?: InstanceDisk[];
  /** Cores per virtual socket; `CPUs` must be a multiple of it. */
  CoresPerSocket?: number;
  /** CPU hot add. Default: the template's; an ISO VM off. */
  CPUHotAdd?: boolean;
  /** Memory hot add. Default: the template's; an ISO VM off. */
  MemoryHotAdd?: boolean;
  /** Firmware. Default: the template's; an ISO VM `bios`. */
  Firmware?: 'bios' | 'efi';
  /** UEFI secure boot; `true` needs `Firmware: "efi"`. */
  SecureBoot?: boolean;
  /** Virtual hardware version of an ISO VM, e.g. `vmx-19`. */
  HardwareVersion?: string;
  /** VMX keys (`config.extraConfig`); not the `guestinfo.userdata*`/`guestinfo.metadata*` keys. */
  ExtraConfig?: Record<string, string>;
  /** How destroy stops a running VM. Default `trySoft`. */
  PowerOffMode?: PowerOffMode;
  /** How long destroy waits for a guest shutdown, 1..3600 s; not with `PowerOffMode: "hard"`. */
  PowerOffTimeoutSeconds?: number;
}

/**
 * What the guest learns about itself: cloud-init's VMware datasource metadata (`guestinfo.metadata`,
 * a netplan version 2 network config matched to the NICs by MAC) and vSphere guest customization
 * (a `CustomizationSpec` for the clone). Also the guest host name and VM name rules shared by both.
 *
 * Pure: no I/O.
 */

import { createHash } from 'node:crypto';
import { ValidationError } from '../errors.ts';
import { ipv4Netmask, type NetworkProperties, type NicProperties } from './properties-network.ts';

type Spec = Record<string, unknown>;

/** Longest VM name vSphere takes. */
export const MAX_VM_NAME_LENGTH = 80;

/** The extraConfig keys of cloud-init's metadata. */
export const METADATA_KEY = 'guestinfo.metadata';
export const METADATA_ENCODING_KEY = 'guestinfo.metadata.encoding';

/**
 * The VM name of an instance with a LogicalID: `<prefix>-<LogicalID>`. Characters vCenter escapes
 * in names (`%`, `/`, `\`) and control characters become `-`; a name that would pass 80
 * characters is cut and ends with a hash of the whole LogicalID, so two long LogicalIDs never
 * share a name.
 */
export function vmNameForLogicalId(prefix: string, logicalId: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is replaced
  const safe = logicalId.replace(/[%/\\\u0000-\u001f\u007f]/g, '-');
  const name = `${prefix}-${safe}`;
  if (name.length <= MAX_VM_NAME_LENGTH) return name;
  const hash = createHash('sha256').update(logicalId).digest('hex').slice(0, 10);
  let head = name.slice(0, MAX_VM_NAME_LENGTH - hash.length - 1);
  // Never cut a surrogate pair in half.
  const last = head.charCodeAt(head.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) head = head.slice(0, -1);
  return `${head}-${hash}`;
}

/** The default guest host name: the VM name made a DNS label (other characters become `-`). */
export function hostnameFromVmName(name: string): string {
  const label = name
    .replace(/[^A-Za-z0-9-]/g, '-')
    .slice(0, 63)
    .replace(/^-+|-+$/g, '');
  return label === '' ? 'localhost' : label;
}

/**
 * The IPv4 address a NIC takes from the LogicalID (`IPv4FromLogicalID`), as `address/prefix`.
 * @throws ValidationError on `Spec.LogicalID` when the LogicalID is not an IPv4 address.
 */
export function logicalIdAddress(logicalId: string | undefined, prefix: number): string {
  const quad =
    /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;
  if (logicalId === undefined || !quad.test(logicalId)) {
    throw new ValidationError(
      [
        {
          field: 'Spec.LogicalID',
          message:
            logicalId === undefined
              ? 'required: a NIC takes its address from the LogicalID (IPv4FromLogicalID)'
              : `${JSON.stringify(logicalId).slice(0, 60)} is not an IPv4 address, which IPv4FromLogicalID needs`,
        },
      ],
      'invalid instance spec',
    );
  }
  return `${logicalId}/${prefix}`;
}

/** A NIC with everything the guest needs resolved: its MAC and its static IPv4 addresses. */
export interface GuestNic {
  nic: NicProperties;
  mac: string;
  /** Static IPv4 addresses, the LogicalID's first. */
  ipv4: string[];
}

/** The NICs' static IPv4 addresses, the LogicalID's first (see {@link logicalIdAddress}). */
export function ipv4Addresses(nic: NicProperties, logicalId: string | undefined): string[] {
  return nic.ipv4FromLogicalId === undefined
    ? nic.ipv4
    : [logicalIdAddress(logicalId, nic.ipv4FromLogicalId), ...nic.ipv4];
}

/** Input of {@link cloudInitMetadata}. */
export interface GuestIdentity {
  instanceId: string;
  /** The guest host name (a DNS label). */
  hostname: string;
  props: Pick<NetworkProperties, 'nameservers' | 'searchDomains' | 'domain'>;
  nics: GuestNic[];
}

/**
 * cloud-init's VMware datasource metadata: `instance-id`, `local-hostname` (the FQDN when a domain
 * is given, which cloud-init splits into host name and domain) and `network`, netplan version 2
 * with one ethernet per NIC, `id0`, `id1`, … in device order, matched by MAC.
 */
export function cloudInitMetadata(identity: GuestIdentity): Spec {
  const { props } = identity;
  const ethernets: Record<string, Spec> = {};
  // No NICs asked for: no network config; cloud-init then uses DHCP on the first NIC.
  identity.nics.forEach(({ nic, mac, ipv4 }, index) => {
    const ethernet: Spec = {
      match: { macaddress: mac.toLowerCase() },
      dhcp4: nic.dhcp4,
      dhcp6: nic.dhcp6,
    };
    const addresses = [...ipv4, ...nic.ipv6];
    if (addresses.length > 0) ethernet.addresses = addresses;
    const routes: Spec[] = [];
    if (nic.gateway4 !== undefined) routes.push({ to: 'default', via: nic.gateway4 });
    if (nic.gateway6 !== undefined) routes.push({ to: '::/0', via: nic.gateway6 });
    if (routes.length > 0) ethernet.routes = routes;
    if (props.nameservers !== undefined || props.searchDomains !== undefined) {
      ethernet.nameservers = {
        ...(props.nameservers ? { addresses: props.nameservers } : {}),
        ...(props.searchDomains ? { search: props.searchDomains } : {}),
      };
    }
    if (nic.mtu !== undefined) ethernet.mtu = nic.mtu;
    ethernets[`id${index}`] = ethernet;
  });
  return {
    'instance-id': identity.instanceId,
    'local-hostname': props.domain ? `${identity.hostname}.${props.domain}` : identity.hostname,
    ...(identity.nics.length > 0 ? { network: { version: 2, ethernets } } : {}),
  };
}

/** The extraConfig entries that carry `metadata` (base64 JSON). */
export function metadataExtraConfig(metadata: Spec): Spec[] {
  return [
    {
      _type: 'OptionValue',
      key: METADATA_KEY,
      value: Buffer.from(JSON.stringify(metadata), 'utf8').toString('base64'),
    },
    { _type: 'OptionValue', key: METADATA_ENCODING_KEY, value: 'base64' },
  ];
}

/**
 * vSphere guest customization for a clone: Linux identity (host name, domain), DNS, and one
 * adapter mapping per NIC in device order (a fixed address or DHCP, its gateways, IPv6).
 */
export function vsphereCustomization(
  hostname: string,
  props: Pick<NetworkProperties, 'nameservers' | 'searchDomains' | 'domain'>,
  nics: { nic: NicProperties; ipv4: string[] }[],
): Spec {
  const globalIPSettings: Spec = { _type: 'CustomizationGlobalIPSettings' };
  if (props.searchDomains) globalIPSettings.dnsSuffixList = props.searchDomains;
  if (props.nameservers) globalIPSettings.dnsServerList = props.nameservers;
  return {
    _type: 'CustomizationSpec',
    identity: {
      _type: 'CustomizationLinuxPrep',
      hostName: { _type: 'CustomizationFixedName', name: hostname },
      domain: props.domain ?? '',
    },
    globalIPSettings,
    nicSettingMap: nics.map(({ nic, ipv4 }) => {
      const adapter: Spec = { _type: 'CustomizationIPSettings' };
      const [first] = ipv4;
      if (first !== undefined) {
        const [address, prefix] = first.split('/');
        adapter.ip = { _type: 'CustomizationFixedIp', ipAddress: address };
        adapter.subnetMask = ipv4Netmask(Number(prefix));
      } else {
        adapter.ip = { _type: 'CustomizationDhcpIpGenerator' };
      }
      if (nic.gateway4 !== undefined) adapter.gateway = [nic.gateway4];
      if (nic.ipv6.length > 0 || nic.dhcp6) {
        adapter.ipV6Spec = {
          _type: 'CustomizationIPSettingsIpV6AddressSpec',
          ip:
            nic.ipv6.length > 0
              ? nic.ipv6.map((cidr) => {
                  const [address, prefix] = cidr.split('/');
                  return { _type: 'CustomizationFixedIpV6', ipAddress: address, subnetMask: Number(prefix) };
                })
              : [{ _type: 'CustomizationDhcpIpV6Generator' }],
          ...(nic.gateway6 !== undefined ? { gateway: [nic.gateway6] } : {}),
        };
      }
      return { _type: 'CustomizationAdapterMapping', adapter };
    }),
  };
}

/** What {@link guestExtraConfig} needs of a build. */
export interface GuestRequest {
  /** The VM name, which is also the instance ID. */
  name: string;
  logicalId?: string;
  props: Pick<
    NetworkProperties,
    'customization' | 'guestHostname' | 'nameservers' | 'searchDomains' | 'domain'
  >;
  nics: readonly NicProperties[];
}

/** The guest host name of a build: `GuestHostname`, else the VM name made a DNS label. */
export function guestHostname(req: Pick<GuestRequest, 'name' | 'props'>): string {
  return req.props.guestHostname ?? hostnameFromVmName(req.name);
}

/**
 * The cloud-init metadata extraConfig of a build whose NICs have the MACs `macs` (in order):
 * `[]` when the build writes no metadata, undefined when it does but the MACs are not known yet.
 */
export function guestExtraConfig(req: GuestRequest, macs: readonly string[] | undefined): Spec[] | undefined {
  if (req.props.customization !== 'cloud-init') return [];
  // Without NICs asked for, the VM keeps the ones it has and the metadata names none.
  if (req.nics.length > 0 && (macs === undefined || macs.length !== req.nics.length)) return undefined;
  return metadataExtraConfig(
    cloudInitMetadata({
      instanceId: req.name,
      hostname: guestHostname(req),
      props: req.props,
      nics: req.nics.map((nic, index) => ({
        nic,
        mac: macs![index]!,
        ipv4: ipv4Addresses(nic, req.logicalId),
      })),
    }),
  );
}

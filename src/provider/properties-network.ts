/**
 * Validation of the network and guest identity properties: `Networks` (one object per NIC),
 * `Nameservers`, `SearchDomains`, `GuestHostname`, `Domain` and `Customization`. Called by
 * parseProperties, which owns the key table; every problem is reported with the path of the value
 * at fault (e.g. `Properties.Networks[1].IPv4[0]`). See docs/properties.md, "Networks and guest
 * identity".
 *
 * Pure: no I/O.
 */

import { isIPv4, isIPv6 } from 'node:net';
import type { ValidationIssue } from '../errors.ts';
import { describeJsonType, fieldPath, isPlainObject, previewValue } from './spec.ts';

/** How the guest learns its network and name. */
export type CustomizationKind = 'cloud-init' | 'vsphere' | 'none';

/** One NIC, in device order. */
export interface NicProperties {
  /** Network (port group, distributed port group or opaque network) name. */
  network: string;
  /** Manual MAC address, lower case; absent: vCenter generates one. */
  mac?: string;
  dhcp4: boolean;
  /** Static IPv4 addresses in CIDR form (`10.0.0.10/24`). */
  ipv4: string[];
  gateway4?: string;
  dhcp6: boolean;
  /** Static IPv6 addresses in CIDR form (`fd00::10/64`). */
  ipv6: string[];
  gateway6?: string;
  mtu?: number;
  /** The instance's LogicalID is this NIC's first IPv4 address, with this prefix length. */
  ipv4FromLogicalId?: number;
}

/** The validated network and guest identity properties; absent values are omitted. */
export interface NetworkProperties {
  /** The NICs of `Networks`, in device order. Absent: the `Network` shorthand (one DHCP NIC) applies. */
  nics?: NicProperties[];
  nameservers?: string[];
  searchDomains?: string[];
  /** Guest host name (a DNS label); absent: derived from the VM name. */
  guestHostname?: string;
  domain?: string;
  /** How the guest is configured; absent means `none` (nothing is written for the guest). */
  customization?: Exclude<CustomizationKind, 'none'>;
}

/** The keys this module validates (parseProperties accepts them and hands their values here). */
export const NETWORK_KEYS = [
  'Networks',
  'Nameservers',
  'SearchDomains',
  'GuestHostname',
  'Domain',
  'Customization',
] as const;

export const NIC_KEYS = [
  'Network',
  'MAC',
  'DHCP4',
  'IPv4',
  'Gateway4',
  'DHCP6',
  'IPv6',
  'Gateway6',
  'MTU',
  'IPv4FromLogicalID',
] as const;

export const NETWORK_LIMITS = {
  nics: { min: 1, max: 10 },
  addressesPerNic: 32,
  nameservers: 10,
  searchDomains: 32,
  mtu: { min: 68, max: 9000 },
  ipv4Prefix: { min: 0, max: 32 },
} as const;

/** What {@link parseNetworkProperties} needs from the rest of the properties. */
export interface NetworkContext {
  /** `Properties` or `Spec.Properties`. */
  root: string;
  /** Raw values of {@link NETWORK_KEYS} that were given (not null, not ""). */
  raw: ReadonlyMap<string, unknown>;
  /** The `Network` shorthand was given in the properties (not only as a provider default). */
  networkGiven: boolean;
  /** A template is cloned (vSphere customization needs one). */
  clone: boolean;
}

const MAC_RE = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i;
const LABEL_RE = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const DNS_NAME_MAX = 253;

/** A DNS label: letters, digits and `-`, 1..63 characters, no `-` at either end. */
export function isDnsLabel(value: string): boolean {
  return LABEL_RE.test(value);
}

/** A DNS name: dot-separated labels (a trailing dot is not accepted), at most 253 characters. */
export function isDnsName(value: string): boolean {
  return value.length <= DNS_NAME_MAX && value.split('.').every(isDnsLabel);
}

/** VMware's range for manually set MACs: 00:50:56:00:00:00 to 00:50:56:3f:ff:ff. */
export function isManualMac(mac: string): boolean {
  const lower = mac.toLowerCase();
  if (!MAC_RE.test(lower) || !lower.startsWith('00:50:56:')) return false;
  return Number.parseInt(lower.slice(9, 11), 16) <= 0x3f;
}

/** `address/prefix` of the given family, or a message. */
function checkCidr(value: string, family: 4 | 6): string | undefined {
  const slash = value.indexOf('/');
  const example = family === 4 ? '"10.0.0.10/24"' : '"fd00::10/64"';
  if (slash < 0) return `${previewValue(value)} has no prefix length; write it in CIDR form, e.g. ${example}`;
  const address = value.slice(0, slash);
  const prefix = value.slice(slash + 1);
  const maxPrefix = family === 4 ? 32 : 128;
  if (!(family === 4 ? isIPv4(address) : isIPv6(address))) {
    return `${previewValue(value)} is not an IPv${family} address in CIDR form, e.g. ${example}`;
  }
  if (!/^[0-9]{1,3}$/.test(prefix) || Number(prefix) > maxPrefix) {
    return `${previewValue(value)}: the prefix length must be 0..${maxPrefix}`;
  }
  return undefined;
}

/** The IPv4 network mask of a prefix length, e.g. 24 → `255.255.255.0`. */
export function ipv4Netmask(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (bits >>> shift) & 0xff).join('.');
}

/**
 * Checks the network and identity keys and their combinations, pushing every problem into
 * `issues`. Returns what to merge into the properties (meaningful only when no issue was found).
 */
export function parseNetworkProperties(
  context: NetworkContext,
  issues: ValidationIssue[],
): NetworkProperties {
  const { root, raw } = context;
  const at = (key: string) => fieldPath(root, key);
  const out: NetworkProperties = {};
  let staticAddress = false;

  if (raw.has('Networks')) {
    const value = raw.get('Networks');
    if (!Array.isArray(value)) {
      issues.push({
        field: at('Networks'),
        message: `expected an array of NIC objects, got ${describeJsonType(value)}`,
      });
    } else if (value.length < NETWORK_LIMITS.nics.min || value.length > NETWORK_LIMITS.nics.max) {
      issues.push({
        field: at('Networks'),
        message: `has ${value.length} NICs; give ${NETWORK_LIMITS.nics.min}..${NETWORK_LIMITS.nics.max}`,
      });
    } else {
      const nics = value.map((nic, index) => parseNic(nic, `${at('Networks')}[${index}]`, issues));
      const macs = new Map<string, number>();
      nics.forEach((nic, index) => {
        if (nic?.mac === undefined) return;
        const first = macs.get(nic.mac);
        if (first !== undefined) {
          issues.push({
            field: `${at('Networks')}[${index}].MAC`,
            message: `${nic.mac} is also the MAC of ${at('Networks')}[${first}]`,
          });
        } else macs.set(nic.mac, index);
      });
      if (nics.every((nic): nic is NicProperties => nic !== undefined)) out.nics = nics;
      staticAddress = nics.some(
        (nic) =>
          nic !== undefined &&
          (nic.ipv4.length > 0 || nic.ipv6.length > 0 || nic.ipv4FromLogicalId !== undefined),
      );
    }
    if (context.networkGiven) {
      issues.push({
        field: `${at('Network')}, ${at('Networks')}`,
        message: 'give either Network (one DHCP NIC) or Networks (a list of NICs), not both',
      });
    }
  }

  const list = (
    key: string,
    max: number,
    check: (item: string) => string | undefined,
  ): string[] | undefined => {
    if (!raw.has(key)) return undefined;
    const value = raw.get(key);
    if (!Array.isArray(value)) {
      issues.push({
        field: at(key),
        message: `expected an array of strings, got ${describeJsonType(value)}`,
      });
      return undefined;
    }
    if (value.length === 0 || value.length > max) {
      issues.push({ field: at(key), message: `has ${value.length} entries; give 1..${max}` });
      return undefined;
    }
    let ok = true;
    value.forEach((item, index) => {
      const message =
        typeof item === 'string' ? check(item) : `expected a string, got ${describeJsonType(item)}`;
      if (message !== undefined) {
        issues.push({ field: `${at(key)}[${index}]`, message });
        ok = false;
      }
    });
    return ok ? (value as string[]) : undefined;
  };
  const nameservers = list('Nameservers', NETWORK_LIMITS.nameservers, (item) =>
    isIPv4(item) || isIPv6(item) ? undefined : `${previewValue(item)} is not an IPv4 or IPv6 address`,
  );
  if (nameservers) out.nameservers = nameservers;
  const searchDomains = list('SearchDomains', NETWORK_LIMITS.searchDomains, (item) =>
    isDnsName(item)
      ? undefined
      : `${previewValue(item)} is not a DNS name (labels of letters, digits and "-")`,
  );
  if (searchDomains) out.searchDomains = searchDomains;

  const text = (key: string, check: (value: string) => boolean, what: string): string | undefined => {
    if (!raw.has(key)) return undefined;
    const value = raw.get(key);
    if (typeof value !== 'string') {
      issues.push({ field: at(key), message: `expected a string, got ${describeJsonType(value)}` });
      return undefined;
    }
    if (!check(value)) {
      issues.push({ field: at(key), message: `${previewValue(value)} is not ${what}` });
      return undefined;
    }
    return value;
  };
  const guestHostname = text(
    'GuestHostname',
    isDnsLabel,
    'a DNS label (1..63 letters, digits and "-", no "-" at either end)',
  );
  if (guestHostname !== undefined) out.guestHostname = guestHostname;
  const domain = text('Domain', isDnsName, 'a DNS name (labels of letters, digits and "-")');
  if (domain !== undefined) out.domain = domain;
  const kinds: readonly string[] = ['cloud-init', 'vsphere', 'none'];
  const customization = text(
    'Customization',
    (value) => kinds.includes(value),
    'one of "cloud-init", "vsphere" or "none"',
  ) as CustomizationKind | undefined;

  const identityKeys = ['Nameservers', 'SearchDomains', 'GuestHostname', 'Domain'].filter((key) =>
    raw.has(key),
  );
  const wantsGuestConfig = staticAddress || identityKeys.length > 0;
  const kind =
    customization ?? (raw.has('Customization') ? undefined : wantsGuestConfig ? 'cloud-init' : 'none');
  if (kind === 'none' && customization === 'none' && wantsGuestConfig) {
    issues.push({
      field: at('Customization'),
      message: `"none" writes nothing for the guest, so ${[...(staticAddress ? ['the static addresses'] : []), ...identityKeys].join(', ')} would be ignored; use "cloud-init" or "vsphere"`,
    });
  }
  if (kind === 'vsphere') {
    if (!context.clone) {
      issues.push({
        field: at('Customization'),
        message:
          '"vsphere" guest customization is applied by a clone; it needs Template (use "cloud-init" for an ISO VM)',
      });
    }
    out.nics?.forEach((nic, index) => {
      const field = `${at('Networks')}[${index}]`;
      if (nic.ipv4.length + (nic.ipv4FromLogicalId === undefined ? 0 : 1) > 1) {
        issues.push({
          field: `${field}.IPv4`,
          message: 'vSphere customization sets one IPv4 address per NIC; use "cloud-init" for more',
        });
      }
      if (nic.mtu !== undefined) {
        issues.push({
          field: `${field}.MTU`,
          message: 'vSphere customization cannot set the MTU; use "cloud-init"',
        });
      }
    });
  }
  if (kind === 'cloud-init' || kind === 'vsphere') out.customization = kind;
  return out;
}

function parseNic(raw: unknown, field: string, issues: ValidationIssue[]): NicProperties | undefined {
  if (!isPlainObject(raw)) {
    issues.push({
      field,
      message: `expected a NIC object like {"Network": "VM Network"}, got ${describeJsonType(raw)}`,
    });
    return undefined;
  }
  const before = issues.length;
  const at = (key: string) => fieldPath(field, key);
  for (const key of Object.keys(raw)) {
    if ((NIC_KEYS as readonly string[]).includes(key)) continue;
    const near = NIC_KEYS.find((k) => k.toLowerCase() === key.toLowerCase());
    issues.push({
      field: at(key),
      message: near
        ? `unknown NIC key; did you mean ${near}? (keys are case-sensitive)`
        : `unknown NIC key; accepted keys are ${NIC_KEYS.join(', ')}`,
    });
  }
  const given = (key: string) => raw[key] !== undefined && raw[key] !== null;
  const bool = (key: string): boolean | undefined => {
    if (!given(key)) return undefined;
    if (typeof raw[key] === 'boolean') return raw[key];
    issues.push({ field: at(key), message: `expected true or false, got ${describeJsonType(raw[key])}` });
    return undefined;
  };
  const string = (key: string): string | undefined => {
    if (!given(key)) return undefined;
    if (typeof raw[key] === 'string') return raw[key];
    issues.push({ field: at(key), message: `expected a string, got ${describeJsonType(raw[key])}` });
    return undefined;
  };
  const integer = (key: string, min: number, max: number): number | undefined => {
    if (!given(key)) return undefined;
    const value = raw[key];
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      issues.push({ field: at(key), message: `expected an integer, got ${previewValue(value)}` });
      return undefined;
    }
    if (value < min || value > max) {
      issues.push({ field: at(key), message: `${value} is out of range ${min}..${max}` });
      return undefined;
    }
    return value;
  };
  const addresses = (key: string, family: 4 | 6): string[] => {
    if (!given(key)) return [];
    const value = raw[key];
    if (!Array.isArray(value)) {
      issues.push({
        field: at(key),
        message: `expected an array of CIDR addresses, got ${describeJsonType(value)}`,
      });
      return [];
    }
    if (value.length > NETWORK_LIMITS.addressesPerNic) {
      issues.push({
        field: at(key),
        message: `has ${value.length} addresses; at most ${NETWORK_LIMITS.addressesPerNic}`,
      });
      return [];
    }
    value.forEach((item, index) => {
      const message =
        typeof item === 'string'
          ? checkCidr(item, family)
          : `expected a string, got ${describeJsonType(item)}`;
      if (message !== undefined) issues.push({ field: `${at(key)}[${index}]`, message });
    });
    return value as string[];
  };
  const gateway = (key: string, family: 4 | 6): string | undefined => {
    const value = string(key);
    if (value === undefined) return undefined;
    if (!(family === 4 ? isIPv4(value) : isIPv6(value))) {
      issues.push({ field: at(key), message: `${previewValue(value)} is not an IPv${family} address` });
    }
    return value;
  };

  const network = string('Network');
  if (!given('Network'))
    issues.push({ field: at('Network'), message: 'required: the network this NIC joins' });
  else if (
    network !== undefined &&
    (network === '' || network.trim() !== network || network.startsWith('/'))
  ) {
    issues.push({
      field: at('Network'),
      message: `${previewValue(network)} is not a network name (as shown in the vSphere Client)`,
    });
  }
  let mac = string('MAC');
  if (mac !== undefined) {
    if (!MAC_RE.test(mac)) {
      issues.push({
        field: at('MAC'),
        message: `${previewValue(mac)} is not a MAC address like "00:50:56:00:00:01"`,
      });
    } else if (!isManualMac(mac)) {
      issues.push({
        field: at('MAC'),
        message: `${mac} is outside VMware's range for manual MACs, 00:50:56:00:00:00 to 00:50:56:3f:ff:ff`,
      });
    }
    mac = mac.toLowerCase();
  }
  const ipv4 = addresses('IPv4', 4);
  const ipv6 = addresses('IPv6', 6);
  const ipv4FromLogicalId = integer(
    'IPv4FromLogicalID',
    NETWORK_LIMITS.ipv4Prefix.min,
    NETWORK_LIMITS.ipv4Prefix.max,
  );
  const gateway4 = gateway('Gateway4', 4);
  const gateway6 = gateway('Gateway6', 6);
  const hasIPv4 = ipv4.length > 0 || given('IPv4FromLogicalID');
  const dhcp4 = bool('DHCP4') ?? !hasIPv4;
  const dhcp6 = bool('DHCP6') ?? false;
  const mtu = integer('MTU', NETWORK_LIMITS.mtu.min, NETWORK_LIMITS.mtu.max);
  if (gateway4 !== undefined && !hasIPv4) {
    issues.push({
      field: at('Gateway4'),
      message: 'only applies with a static IPv4 address (IPv4 or IPv4FromLogicalID)',
    });
  }
  if (gateway6 !== undefined && ipv6.length === 0) {
    issues.push({ field: at('Gateway6'), message: 'only applies with a static IPv6 address (IPv6)' });
  }
  if (issues.length > before) return undefined;
  const nic: NicProperties = { network: network ?? '', dhcp4, ipv4, dhcp6, ipv6 };
  if (mac !== undefined) nic.mac = mac;
  if (gateway4 !== undefined) nic.gateway4 = gateway4;
  if (gateway6 !== undefined) nic.gateway6 = gateway6;
  if (mtu !== undefined) nic.mtu = mtu;
  if (ipv4FromLogicalId !== undefined) nic.ipv4FromLogicalId = ipv4FromLogicalId;
  return nic;
}

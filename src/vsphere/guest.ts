/**
 * Guest networking as VMware Tools reports it: the primary `guest.ipAddress` and, per NIC,
 * `guest.net[]`. Waiting for an IP skips loopback and link-local addresses, which Tools
 * reports before DHCP finishes.
 */
import type { PropertyCollector } from '../property/collector.ts';
import { waitForProperties } from '../property/wait.ts';
import type { ManagedObjectReference } from '../vim25/index.ts';

export interface GuestNic {
  MAC: string;
  Network: string;
  Connected: boolean;
  IPs: string[];
}

/** True for an address a peer could reach: not loopback, not link-local, not unspecified. */
export function isRoutableIp(ip: string): boolean {
  const v = ip.trim().toLowerCase();
  if (v === '' || v === '0.0.0.0' || v === '::') return false;
  if (v.startsWith('127.') || v === '::1') return false;
  if (v.startsWith('169.254.')) return false;
  if (/^fe[89ab][0-9a-f]:/.test(v)) return false;
  return true;
}

export function describeGuestNics(net: unknown): GuestNic[] {
  if (!Array.isArray(net)) return [];
  return net.map((nic: Record<string, unknown>) => ({
    MAC: typeof nic.macAddress === 'string' ? nic.macAddress : '',
    Network: typeof nic.network === 'string' ? nic.network : '',
    Connected: nic.connected === true,
    IPs: Array.isArray(nic.ipAddress)
      ? nic.ipAddress.filter((ip): ip is string => typeof ip === 'string')
      : [],
  }));
}

/**
 * Resolves with the first routable guest IP, as a property wait on `guest.ipAddress` and
 * `guest.net` (no polling); rejects with TimeoutError after `timeoutMs`, AbortError when the
 * signal aborts, ObjectGoneError when the VM is destroyed meanwhile.
 */
export function waitForGuestIp(
  collector: PropertyCollector,
  vm: ManagedObjectReference,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string> {
  return waitForProperties(
    collector.session,
    [{ obj: vm, paths: ['guest.ipAddress', 'guest.net'] }],
    (values) =>
      [
        (values.get(vm, 'guest.ipAddress') as string | undefined) ?? '',
        ...describeGuestNics(values.get(vm, 'guest.net')).flatMap((n) => n.IPs),
      ].find(isRoutableIp),
    { timeoutMs, description: `the guest IP of ${vm.value}`, ...(signal ? { signal } : {}) },
  );
}

/**
 * Guest networking as VMware Tools reports it: the primary `guest.ipAddress` and, per NIC,
 * `guest.net[]`. Waiting for an IP skips loopback and link-local addresses, which Tools
 * reports before DHCP finishes.
 */
import type { PropertyCollector } from '../property/collector.ts';
import { AbortError, TimeoutError } from '../transport/errors.ts';
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

/** Resolves with the first routable guest IP, polling every `intervalMs`; rejects with TimeoutError after `timeoutMs`. */
export async function waitForGuestIp(
  collector: PropertyCollector,
  vm: ManagedObjectReference,
  timeoutMs: number,
  signal?: AbortSignal,
  intervalMs = 1000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (signal?.aborted) throw new AbortError(`waiting for the guest IP of ${vm.value}`);
    const [info] = await collector.properties([vm], ['guest.ipAddress', 'guest.net']);
    const candidates = [
      (info?.props.get('guest.ipAddress') as string | undefined) ?? '',
      ...describeGuestNics(info?.props.get('guest.net')).flatMap((n) => n.IPs),
    ];
    const ip = candidates.find(isRoutableIp);
    if (ip) return ip;
    if (Date.now() >= deadline) throw new TimeoutError(`waiting for the guest IP of ${vm.value}`, timeoutMs);
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))),
    );
  }
}

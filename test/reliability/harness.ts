/**
 * Shared set-up of the reliability suite: a vcsim behind a fault proxy, providers that talk to it
 * through the proxy, and the checks every scenario ends with (which VMs exist, which sessions live).
 */

import { VSphereClient } from '../../src/blocks.ts';
import { ManagedObjectReference, VSphereError, VSphereInstanceProvider } from '../../src/index.ts';
import { Vcsim, type VcsimOptions } from '../vcsim/vcsim.ts';
import type { TestCertificate } from './certs.ts';
import { FaultProxy, type FaultRule } from './fault-proxy.ts';

/** A password with the characters that break naive URL, XML and shell handling. */
export const PASSWORD = 'R3l!ab<le>&"pa%ss:/@word';
export const PROVIDER_USER = 'reliability-provider';

export const cloneProps = { Template: 'DC0_H0_VM0', Hostname: 'DC0_H0' } as const;

export function groupTags(group: string, hash = 'hash-1'): Record<string, string> {
  return { 'infrakit.group': group, 'infrakit.config.hash': hash };
}

export interface Rig {
  sim: Vcsim;
  proxy: FaultProxy;
  /** A client straight to vcsim (no proxy), for checks. */
  admin: VSphereClient;
  providers: VSphereInstanceProvider[];
  /** The thumbprint providers pin when the proxy serves HTTPS (`proxyTls`). */
  proxyThumbprint: string | undefined;
  provider(
    options?: Partial<ConstructorParameters<typeof VSphereInstanceProvider>[0]>,
  ): VSphereInstanceProvider;
  close(): Promise<void>;
}

/**
 * Starts vcsim (plain HTTP unless asked) and a fault proxy in front of it. With `proxyTls` the
 * proxy serves HTTPS with that certificate and the providers pin its thumbprint, as a production
 * set-up verifies its vCenter.
 */
export async function startRig(
  options: { vcsim?: VcsimOptions; rules?: FaultRule[]; seed?: number; proxyTls?: TestCertificate } = {},
): Promise<Rig> {
  const sim = await Vcsim.start({ tls: false, ...options.vcsim });
  const proxy = await FaultProxy.start({
    upstream: sim.sdkUrl,
    ...(options.rules ? { rules: options.rules } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.proxyTls ? { tls: { key: options.proxyTls.key, cert: options.proxyTls.cert } } : {}),
  });
  const pin = options.proxyTls ? { tls: { thumbprint: options.proxyTls.sha256 } } : {};
  const admin = new VSphereClient({
    url: sim.sdkUrl,
    username: 'reliability-admin',
    password: 'admin-pass',
    keepAliveMs: 0,
    ...(sim.url.protocol === 'https:' ? { tls: { insecure: true } } : {}),
  });
  const providers: VSphereInstanceProvider[] = [];
  return {
    sim,
    proxy,
    admin,
    providers,
    proxyThumbprint: options.proxyTls?.sha256,
    provider(extra = {}) {
      const p = new VSphereInstanceProvider({
        url: proxy.sdkUrl,
        username: PROVIDER_USER,
        password: PASSWORD,
        datastore: 'LocalDS_0',
        keepAliveMs: 0,
        shutdownTimeoutMs: 0,
        timeoutMs: 10_000,
        ...pin,
        ...extra,
      });
      providers.push(p);
      return p;
    },
    async close() {
      await Promise.allSettled(providers.map((p) => p.close()));
      await admin.close().catch(() => undefined);
      await proxy.close();
      await sim.stop();
    },
  };
}

/** Names of the VMs in vcsim whose name has the provider's default form `vm-<int63>`. */
export async function instanceVmNames(sim: Vcsim, prefix = 'vm'): Promise<string[]> {
  const pattern = new RegExp(`^${prefix}-\\d+$`);
  return (await sim.listVms()).map((vm) => vm.name).filter((name) => pattern.test(name));
}

/** Sessions vcsim holds for `userName` (SessionManager.sessionList, read by the admin client). */
export async function liveSessions(admin: VSphereClient, userName: string): Promise<number> {
  const content = await admin.session.serviceContent();
  const list = await admin.collector.property<{ userName: string }[]>(
    content.sessionManager as ManagedObjectReference,
    'sessionList',
  );
  return (list ?? []).filter((s) => s.userName === userName).length;
}

/** Names of the VMs directly in the folder(s) named `folder` (a group folder). */
export async function vmNamesInFolder(rig: Rig, folder: string): Promise<string[]> {
  const content = await rig.admin.session.serviceContent();
  const folders = await rig.admin.collector.find(content.rootFolder, 'Folder', ['name']);
  const refs = new Set(folders.filter((f) => f.props.get('name') === folder).map((f) => f.obj.value));
  return (await rig.sim.listVms()).filter((vm) => refs.has(vm.parent)).map((vm) => vm.name);
}

/** Folders named `name` anywhere in the inventory. */
export async function foldersNamed(admin: VSphereClient, name: string): Promise<number> {
  const content = await admin.session.serviceContent();
  const folders = await admin.collector.find(content.rootFolder, 'Folder', ['name']);
  return folders.filter((f) => f.props.get('name') === name).length;
}

/** The outcome of a call: its value, or what it threw. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export async function settle<T>(work: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await work };
  } catch (error) {
    return { ok: false, error };
  }
}

/** `CODE: message` of a typed error, or `UNTYPED ...` for anything else (a test failure). */
export function describeError(error: unknown): string {
  if (error instanceof VSphereError) return `${error.code}: ${error.message}`;
  return `UNTYPED ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export { ManagedObjectReference };

/**
 * Test harness: one vcsim per test file on a free loopback port, always stopped.
 * It talks to vcsim with hand-written SOAP (not the library under test), so a bug in the
 * library cannot hide itself in the harness.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  fetchCertificate,
  type SimCertificate,
  SimSession,
  type SimToolsOptions,
  type SimVm,
  textOf,
  type XmlNode,
  xmlText,
} from '../../src/testing/sim-session.ts';
import { locateVcsim } from './locate.ts';

export type { SimVm } from '../../src/testing/sim-session.ts';

/** A VM as {@link Vcsim.snapshotVms} reads it. */
export interface PersistedVm {
  name: string;
  /** Name of its folder when that is not the datacenter's VM folder itself (a group folder). */
  folder: string | undefined;
  annotation: string | undefined;
  poweredOn: boolean;
}

export interface VcsimOptions {
  /** Simulate a stand-alone ESXi host instead of vCenter. */
  esx?: boolean;
  /** Datacenters (vCenter model only). Default 1. */
  datacenters?: number;
  clusters?: number;
  hostsPerCluster?: number;
  standaloneHosts?: number;
  /** VMs per resource pool created at start. Default 2 (vcsim's default). */
  vms?: number;
  /** Serve HTTPS with vcsim's self-signed certificate. Default true. */
  tls?: boolean;
  username?: string;
  password?: string;
  /** Session idle timeout as a Go duration (`"2s"`), set through OptionManager after start. */
  sessionTimeout?: string;
  /** Delays in ms by API method or task name (`{ CloneVm: 3000 }`): the launcher's -method-delay. */
  methodDelay?: Record<string, number>;
  /** Listen on this port (used by restart to come back on the same address). */
  port?: number;
}

export type VcsimCertificate = SimCertificate;

export class Vcsim {
  readonly options: VcsimOptions;
  readonly binary: string;
  /** `https://user:pass@127.0.0.1:PORT/sdk` */
  url!: URL;
  certificate?: VcsimCertificate;
  private child?: ChildProcess;
  private stderr = '';
  private readonly session: SimSession;

  private constructor(options: VcsimOptions) {
    this.options = options;
    this.binary = locateVcsim();
    this.session = new SimSession({
      base: () => this.url,
      username: options.username ?? 'user',
      password: options.password ?? 'pass',
    });
  }

  /** Starts a vcsim and waits until it serves. */
  static async start(options: VcsimOptions = {}): Promise<Vcsim> {
    const sim = new Vcsim(options);
    await sim.spawn(options.port ?? 0);
    return sim;
  }

  get username(): string {
    return this.options.username ?? 'user';
  }
  get password(): string {
    return this.options.password ?? 'pass';
  }
  /** The SDK URL without credentials. */
  get sdkUrl(): string {
    return `${this.url.protocol}//${this.url.host}/sdk`;
  }
  /** The SDK URL with credentials, the form the original plugin took (`--url`). */
  get urlWithCredentials(): string {
    const u = new URL(this.sdkUrl);
    u.username = encodeURIComponent(this.username);
    u.password = encodeURIComponent(this.password);
    return u.toString();
  }
  get port(): number {
    return Number(this.url.port);
  }
  /** The vcsim process, while it runs (benchmarks read its CPU time). */
  get pid(): number | undefined {
    return this.child?.pid;
  }
  get isEsx(): boolean {
    return this.options.esx === true;
  }

  private async spawn(port: number): Promise<void> {
    const o = this.options;
    const args = ['-l', `127.0.0.1:${port}`, '-stdinexit'];
    if (o.esx) args.push('-esx');
    if (o.datacenters !== undefined) args.push('-dc', String(o.datacenters));
    if (o.clusters !== undefined) args.push('-cluster', String(o.clusters));
    if (o.hostsPerCluster !== undefined) args.push('-host', String(o.hostsPerCluster));
    if (o.standaloneHosts !== undefined) args.push('-standalone-host', String(o.standaloneHosts));
    if (o.vms !== undefined) args.push('-vm', String(o.vms));
    if (o.tls === false) args.push('-tls=false');
    if (o.username !== undefined) args.push('-username', o.username, '-password', o.password ?? '');
    if (o.methodDelay) {
      args.push(
        '-method-delay',
        Object.entries(o.methodDelay)
          .map(([name, ms]) => `${name}:${ms}`)
          .join(','),
      );
    }
    const child = spawn(this.binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    // How it ended, for `output`: a signal from outside the tests, or a Go crash's exit code.
    child.once('exit', (code, signal) => {
      if (this.child === child) this.stderr += `\n[vcsim exited: code ${code}, signal ${signal}]`;
    });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(
        () => reject(new Error(`vcsim did not start in 20 s: ${this.stderr}`)),
        20_000,
      );
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /GOVC_URL=(\S+)/.exec(out);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`vcsim exited with ${code} before serving: ${this.stderr}`));
      });
    });
    this.url = new URL(url);
    this.session.reset();
    if (this.url.protocol === 'https:') this.certificate = await fetchCertificate(this.url);
    if (this.options.sessionTimeout) await this.setSessionTimeout(this.options.sessionTimeout);
  }

  /**
   * Whether the vcsim process has exited on its own (not through {@link stop}); `output` then
   * holds why, e.g. a Go panic's trace.
   */
  get exited(): boolean {
    return this.child !== undefined && (this.child.exitCode !== null || this.child.signalCode !== null);
  }

  /** The last 4000 characters vcsim wrote to stderr. */
  get output(): string {
    return this.stderr;
  }

  /** Stops vcsim (idempotent). */
  async stop(): Promise<void> {
    this.stopTools();
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }

  /** Stops and starts vcsim on the same port: every session and MoRef cache is stale after it. */
  async restart(): Promise<void> {
    const port = this.port;
    await this.stop();
    await this.spawn(port);
  }

  /**
   * Kills vcsim with SIGKILL (a crash: nothing is shut down cleanly, every connection drops) and
   * starts it again on the same port. Like {@link restart}, vcsim comes back with its initial
   * inventory only, and reuses MoRef values: a real vCenter keeps its VMs and their MoRefs.
   */
  async crash(): Promise<void> {
    const port = this.port;
    this.stopTools();
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
    await this.spawn(port);
  }

  /** The VMs `keep` selects, with their folder's name (unless the datacenter's VM folder), notes and power state. */
  async snapshotVms(keep: (vm: SimVm) => boolean): Promise<PersistedVm[]> {
    const vms = (await this.listVms()).filter(keep);
    const sc = await this.session.serviceContent();
    const { vmFolder } = await this.placement();
    const parents = [...new Set(vms.map((vm) => vm.parent))].filter((p) => p !== vmFolder);
    const names = new Map<string, string>();
    if (parents.length > 0) {
      const result = await this.soap(
        'RetrievePropertiesEx',
        `<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">${sc.propertyCollector}</_this><specSet><propSet><type>Folder</type><pathSet>name</pathSet></propSet>${parents.map((p) => `<objectSet><obj type="Folder">${xmlText(p)}</obj></objectSet>`).join('')}</specSet><options/></RetrievePropertiesEx>`,
      );
      const returnval = (
        (result.RetrievePropertiesExResponse as XmlNode).returnval as XmlNode[] | undefined
      )?.[0];
      for (const object of (returnval?.objects as XmlNode[] | undefined) ?? []) {
        const name = ((object.propSet as XmlNode[] | undefined) ?? []).find((p) => p.name === 'name');
        names.set(textOf(object.obj), textOf(name?.val));
      }
    }
    return vms.map((vm) => ({
      name: vm.name,
      folder: names.get(vm.parent),
      annotation: vm.annotation,
      poweredOn: vm.powerState === 'poweredOn',
    }));
  }

  /** Sends one SOAP call with hand-written body XML; returns the parsed Body. */
  soap(method: string, innerXml: string, options: { login?: boolean } = {}): Promise<XmlNode> {
    return this.session.soap(method, innerXml, options);
  }

  /** Sets `config.vmacore.soap.sessionTimeout` (vcsim >= 0.51 honours it for new sessions). */
  setSessionTimeout(duration: string): Promise<void> {
    return this.session.setSessionTimeout(duration);
  }

  /** Every VM in the inventory: MoRef value, name, power state, annotation, guest IP, parent. */
  listVms(): Promise<SimVm[]> {
    return this.session.listVms();
  }

  /**
   * Adds `count` powered-off VMs (`<prefix>-<n>`) to the first datacenter's VM folder with
   * concurrent CreateVM_Task calls. vcsim's own start-up makes VMs one task at a time (about
   * 40 ms each on v0.56), far too slow for thousands; this works with any vcsim.
   */
  async createVms(count: number, options: { prefix?: string; concurrency?: number } = {}): Promise<void> {
    const { vmFolder, pool } = await this.placement();
    const prefix = options.prefix ?? 'bulk';
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const n = next++;
        await this.soap(
          'CreateVM_Task',
          `<CreateVM_Task xmlns="urn:vim25"><_this type="Folder">${vmFolder}</_this><config><name>${prefix}-${n}</name><guestId>otherLinux64Guest</guestId><files><vmPathName>[LocalDS_0]</vmPathName></files><numCPUs>1</numCPUs><memoryMB>32</memoryMB></config><pool type="ResourcePool">${pool}</pool></CreateVM_Task>`,
        );
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
    // CreateVM_Task runs asynchronously in vcsim: wait until every VM is in the inventory.
    for (let i = 0; i < 600; i++) {
      const vms = await this.listVms();
      if (vms.filter((vm) => vm.name.startsWith(`${prefix}-`)).length >= count) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`vcsim did not create ${count} VMs in time`);
  }

  /** The first datacenter's VM folder and the first compute resource's pool (MoRef values). */
  private async placement(): Promise<{ vmFolder: string; pool: string }> {
    const sc = await this.session.serviceContent();
    const content = await this.soap(
      'RetrievePropertiesEx',
      `<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">${sc.propertyCollector}</_this><specSet><propSet><type>Datacenter</type><pathSet>vmFolder</pathSet><pathSet>datastore</pathSet></propSet><propSet><type>ComputeResource</type><pathSet>resourcePool</pathSet></propSet><propSet><type>ClusterComputeResource</type><pathSet>resourcePool</pathSet></propSet><objectSet><obj type="Folder">${sc.rootFolder}</obj><skip>true</skip><selectSet xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="TraversalSpec"><name>f</name><type>Folder</type><path>childEntity</path><skip>false</skip><selectSet><name>f</name></selectSet><selectSet><name>h</name></selectSet></selectSet><selectSet xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="TraversalSpec"><name>h</name><type>Datacenter</type><path>hostFolder</path><skip>false</skip><selectSet><name>f</name></selectSet></selectSet></objectSet></specSet><options/></RetrievePropertiesEx>`,
    );
    const objects =
      (((content.RetrievePropertiesExResponse as XmlNode).returnval as XmlNode[])[0]?.objects as XmlNode[]) ??
      [];
    const propOf = (type: string, name: string) => {
      for (const o of objects) {
        if ((o.obj as XmlNode)['@_type'] !== type) continue;
        for (const p of (o.propSet as XmlNode[]) ?? []) if (p.name === name) return textOf(p.val);
      }
      return '';
    };
    return {
      vmFolder: propOf('Datacenter', 'vmFolder'),
      pool: propOf('ComputeResource', 'resourcePool') || propOf('ClusterComputeResource', 'resourcePool'),
    };
  }

  /** Makes a VM report a guest IP, as VMware Tools would. */
  setGuestIp(vmMoref: string, ip: string): Promise<void> {
    return this.session.setGuestIp(vmMoref, ip);
  }

  /**
   * Stands in for VMware Tools: every VM seen powered on for `delayMs` without an IP gets one
   * (`10.0.<n>.<m>` unless `ipFor` says otherwise). Runs until stop/stopTools.
   */
  startTools(options: SimToolsOptions = {}): void {
    this.session.startTools(options);
  }

  stopTools(): void {
    this.session.stopTools();
  }
}

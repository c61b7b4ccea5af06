/**
 * Test harness: one vcsim per test file on a free loopback port, always stopped.
 * It talks to vcsim with hand-written SOAP (not the library under test), so a bug in the
 * library cannot hide itself in the harness.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { XMLParser } from 'fast-xml-parser';
import { locateVcsim } from './locate.ts';

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

export interface VcsimCertificate {
  pem: string;
  /** `AA:BB:...` as Node prints it. */
  sha256: string;
  sha1: string;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: false,
  // Numeric references (&#xA; for newlines in annotations) are decoded only with htmlEntities.
  htmlEntities: true,
  isArray: (name) => ['objects', 'propSet', 'returnval', 'ManagedObjectReference'].includes(name),
});

type XmlNode = Record<string, unknown>;

export class Vcsim {
  readonly options: VcsimOptions;
  readonly binary: string;
  /** `https://user:pass@127.0.0.1:PORT/sdk` */
  url!: URL;
  certificate?: VcsimCertificate;
  private child?: ChildProcess;
  private stderr = '';
  private cookie?: string;
  private toolsTimer?: NodeJS.Timeout;

  private constructor(options: VcsimOptions) {
    this.options = options;
    this.binary = locateVcsim();
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
    this.cookie = undefined;
    if (this.url.protocol === 'https:') this.certificate = await fetchCertificate(this.url);
    if (this.options.sessionTimeout) await this.setSessionTimeout(this.options.sessionTimeout);
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

  /** Sends one SOAP call with hand-written body XML; returns the parsed Body. */
  async soap(method: string, innerXml: string, options: { login?: boolean } = {}): Promise<XmlNode> {
    if (options.login !== false && !this.cookie) await this.login();
    const { status, body, setCookie } = await post(this.url, method, innerXml, this.cookie);
    if (setCookie) this.cookie = setCookie;
    const envelope = parser.parse(body) as XmlNode;
    const soapBody = (envelope.Envelope as XmlNode | undefined)?.Body as XmlNode | undefined;
    if (!soapBody) throw new Error(`vcsim answered ${status} without a SOAP body`);
    if (soapBody.Fault) throw new Error(`vcsim fault on ${method}: ${JSON.stringify(soapBody.Fault)}`);
    return soapBody;
  }

  /** MoRef values of the service content (they differ between the vCenter and ESX models). */
  private sc: Record<string, string> = {};

  private async login(): Promise<void> {
    const content = await this.soap(
      'RetrieveServiceContent',
      '<RetrieveServiceContent xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></RetrieveServiceContent>',
      { login: false },
    );
    const returnval = ((content.RetrieveServiceContentResponse as XmlNode).returnval as XmlNode[])[0] ?? {};
    for (const key of ['rootFolder', 'propertyCollector', 'viewManager', 'sessionManager', 'setting']) {
      this.sc[key] = textOf(returnval[key]);
    }
    await this.soap(
      'Login',
      `<Login xmlns="urn:vim25"><_this type="SessionManager">${this.sc.sessionManager}</_this><userName>${xmlText(this.username)}</userName><password>${xmlText(this.password)}</password></Login>`,
      { login: false },
    );
  }

  /** Sets `config.vmacore.soap.sessionTimeout` (vcsim >= 0.51 honours it for new sessions). */
  async setSessionTimeout(duration: string): Promise<void> {
    if (!this.cookie) await this.login();
    const settings = this.sc.setting;
    await this.soap(
      'UpdateOptions',
      `<UpdateOptions xmlns="urn:vim25"><_this type="OptionManager">${settings}</_this><changedValue><key>config.vmacore.soap.sessionTimeout</key><value xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xsd:string" xmlns:xsd="http://www.w3.org/2001/XMLSchema">${xmlText(duration)}</value></changedValue></UpdateOptions>`,
    );
  }

  /** Every VM in the inventory: MoRef value, name, power state, annotation, guest IP, parent. */
  async listVms(): Promise<SimVm[]> {
    if (!this.cookie) await this.login();
    const view = await this.soap(
      'CreateContainerView',
      `<CreateContainerView xmlns="urn:vim25"><_this type="ViewManager">${this.sc.viewManager}</_this><container type="Folder">${this.sc.rootFolder}</container><type>VirtualMachine</type><recursive>true</recursive></CreateContainerView>`,
    );
    const viewId = textOf((view.CreateContainerViewResponse as XmlNode).returnval as unknown);
    try {
      const result = await this.soap(
        'RetrievePropertiesEx',
        `<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">${this.sc.propertyCollector}</_this><specSet><propSet><type>VirtualMachine</type><pathSet>name</pathSet><pathSet>runtime.powerState</pathSet><pathSet>config.annotation</pathSet><pathSet>guest.ipAddress</pathSet><pathSet>parent</pathSet><pathSet>config.template</pathSet></propSet><objectSet><obj type="ContainerView">${viewId}</obj><skip>true</skip><selectSet xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="TraversalSpec"><name>v</name><type>ContainerView</type><path>view</path><skip>false</skip></selectSet></objectSet></specSet><options/></RetrievePropertiesEx>`,
      );
      const returnval = (
        (result.RetrievePropertiesExResponse as XmlNode).returnval as XmlNode[] | undefined
      )?.[0];
      const objects = (returnval?.objects as XmlNode[] | undefined) ?? [];
      return objects.map((object) => {
        const props = new Map<string, unknown>();
        for (const p of (object.propSet as XmlNode[] | undefined) ?? []) props.set(String(p.name), p.val);
        return {
          moref: textOf(object.obj),
          name: textOf(props.get('name')),
          powerState: textOf(props.get('runtime.powerState')),
          annotation: props.has('config.annotation') ? textOf(props.get('config.annotation')) : undefined,
          ipAddress: props.has('guest.ipAddress') ? textOf(props.get('guest.ipAddress')) : undefined,
          parent: textOf(props.get('parent')),
          template: textOf(props.get('config.template')) === 'true',
        };
      });
    } finally {
      await this.soap(
        'DestroyView',
        `<DestroyView xmlns="urn:vim25"><_this type="ContainerView">${viewId}</_this></DestroyView>`,
      );
    }
  }

  /**
   * Adds `count` powered-off VMs (`<prefix>-<n>`) to the first datacenter's VM folder with
   * concurrent CreateVM_Task calls. vcsim's own start-up makes VMs one task at a time (about
   * 40 ms each on v0.56), far too slow for thousands; this works with any vcsim.
   */
  async createVms(count: number, options: { prefix?: string; concurrency?: number } = {}): Promise<void> {
    if (!this.cookie) await this.login();
    const content = await this.soap(
      'RetrievePropertiesEx',
      `<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">${this.sc.propertyCollector}</_this><specSet><propSet><type>Datacenter</type><pathSet>vmFolder</pathSet><pathSet>datastore</pathSet></propSet><propSet><type>ComputeResource</type><pathSet>resourcePool</pathSet></propSet><propSet><type>ClusterComputeResource</type><pathSet>resourcePool</pathSet></propSet><objectSet><obj type="Folder">${this.sc.rootFolder}</obj><skip>true</skip><selectSet xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="TraversalSpec"><name>f</name><type>Folder</type><path>childEntity</path><skip>false</skip><selectSet><name>f</name></selectSet><selectSet><name>h</name></selectSet></selectSet><selectSet xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="TraversalSpec"><name>h</name><type>Datacenter</type><path>hostFolder</path><skip>false</skip><selectSet><name>f</name></selectSet></selectSet></objectSet></specSet><options/></RetrievePropertiesEx>`,
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
    const vmFolder = propOf('Datacenter', 'vmFolder');
    const pool =
      propOf('ComputeResource', 'resourcePool') || propOf('ClusterComputeResource', 'resourcePool');
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

  /** Makes a VM report a guest IP, as VMware Tools would. */
  async setGuestIp(vmMoref: string, ip: string): Promise<void> {
    await this.soap(
      'ReconfigVM_Task',
      `<ReconfigVM_Task xmlns="urn:vim25"><_this type="VirtualMachine">${vmMoref}</_this><spec><extraConfig><key>SET.guest.ipAddress</key><value xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xsd:string" xmlns:xsd="http://www.w3.org/2001/XMLSchema">${xmlText(ip)}</value></extraConfig></spec></ReconfigVM_Task>`,
    );
  }

  /**
   * Stands in for VMware Tools: every VM seen powered on for `delayMs` without an IP gets one
   * (`10.0.<n>.<m>` unless `ipFor` says otherwise). Runs until stop/stopTools.
   */
  startTools(
    options: { delayMs?: number; intervalMs?: number; ipFor?: (vm: SimVm, n: number) => string } = {},
  ): void {
    const delayMs = options.delayMs ?? 500;
    const firstSeenOn = new Map<string, number>();
    let counter = 0;
    const tick = async () => {
      try {
        const now = Date.now();
        for (const vm of await this.listVms()) {
          if (vm.powerState !== 'poweredOn' || vm.ipAddress) continue;
          const seen = firstSeenOn.get(vm.moref) ?? now;
          firstSeenOn.set(vm.moref, seen);
          if (now - seen < delayMs) continue;
          counter += 1;
          const ip =
            options.ipFor?.(vm, counter) ?? `10.0.${Math.floor(counter / 250)}.${(counter % 250) + 2}`;
          await this.setGuestIp(vm.moref, ip);
        }
      } catch {
        // vcsim restarting or a VM destroyed mid-tick: the next tick sees the new state
      }
      if (this.toolsTimer) this.toolsTimer = setTimeout(tick, options.intervalMs ?? 200);
    };
    this.toolsTimer = setTimeout(tick, 0);
  }

  stopTools(): void {
    if (this.toolsTimer) clearTimeout(this.toolsTimer);
    this.toolsTimer = undefined;
  }
}

export interface SimVm {
  moref: string;
  name: string;
  powerState: string;
  annotation: string | undefined;
  ipAddress: string | undefined;
  parent: string;
  template: boolean;
}

function textOf(value: unknown): string {
  if (Array.isArray(value)) return textOf(value[0]);
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') {
    const text = (value as XmlNode)['#text'];
    return text === undefined ? '' : String(text);
  }
  return String(value);
}

function xmlText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function post(
  url: URL,
  method: string,
  innerXml: string,
  cookie: string | undefined,
): Promise<{ status: number; body: string; setCookie?: string }> {
  const body = `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>${innerXml}</soapenv:Body></soapenv:Envelope>`;
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(
      {
        host: url.hostname,
        port: url.port,
        path: '/sdk',
        method: 'POST',
        rejectUnauthorized: false,
        headers: {
          'content-type': 'text/xml; charset=utf-8',
          soapaction: 'urn:vim25/8.0.2.0',
          'content-length': Buffer.byteLength(body),
          ...(cookie ? { cookie } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = res.headers['set-cookie']?.[0];
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            ...(raw ? { setCookie: raw.split(';')[0] } : {}),
          });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`vcsim ${method} timed out`)));
    req.on('error', (error) => reject(new Error(`vcsim ${method} on ${url.host}: ${error.message}`)));
    req.end(body);
  });
}

async function fetchCertificate(url: URL): Promise<VcsimCertificate> {
  const socket = tls.connect({ host: url.hostname, port: Number(url.port), rejectUnauthorized: false });
  await once(socket, 'secureConnect');
  const cert = socket.getPeerCertificate();
  socket.destroy();
  const b64 = cert.raw.toString('base64').replace(/(.{64})/g, '$1\n');
  return {
    pem: `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`,
    sha256: cert.fingerprint256,
    sha1: cert.fingerprint,
  };
}

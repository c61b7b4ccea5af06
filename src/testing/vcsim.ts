/**
 * Starts and stops a vcsim (govmomi's vCenter simulator) on a free loopback port, for integration
 * tests of applications built on this library. It talks to vcsim with hand-written SOAP, not with
 * the library, so a bug in the library cannot hide itself in the simulator's helpers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { XMLParser } from 'fast-xml-parser';
import { installVcsim, type LocateVcsimOptions, locateVcsim, VcsimNotFoundError } from './locate.ts';

/** Options of {@link startVcsim}. */
export interface StartVcsimOptions extends LocateVcsimOptions {
  /** Simulate a stand-alone ESXi host instead of vCenter. */
  esx?: boolean;
  /** Datacenters (vCenter model). vcsim's default: 1 (`DC0`). */
  datacenters?: number;
  /** Clusters per datacenter. vcsim's default: 1 (`DC0_C0`). */
  clusters?: number;
  /** Hosts per cluster. vcsim's default: 3. */
  hostsPerCluster?: number;
  /** Stand-alone hosts per datacenter. vcsim's default: 1 (`DC0_H0`). */
  standaloneHosts?: number;
  /** VMs per resource pool made at start. vcsim's default: 2. */
  vms?: number;
  /** Serve HTTPS with vcsim's self-signed certificate (default true). */
  tls?: boolean;
  /** The only user name vcsim accepts. Default `user`. */
  username?: string;
  /** The only password vcsim accepts. Default `pass`. */
  password?: string;
  /** Session idle timeout as a Go duration (`"2s"`); needs the launcher (vcsim >= 0.51). */
  sessionTimeout?: string;
  /** Listen on this loopback port. Default: a free one. */
  port?: number;
  /** When no vcsim is found, build the launcher with Go first ({@link installVcsim}). Default false. */
  install?: boolean;
  /** How long vcsim may take to start serving. Default 30 000 ms. */
  startTimeoutMs?: number;
}

/** A VM as vcsim reports it. */
export interface SimVm {
  /** MoRef value, e.g. `vm-42`. */
  moref: string;
  name: string;
  /** `poweredOn`, `poweredOff` or `suspended`. */
  powerState: string;
  annotation: string | undefined;
  ipAddress: string | undefined;
  /** MoRef value of the parent folder. */
  parent: string;
  template: boolean;
}

/** Options of {@link RunningVcsim.startTools}. */
export interface SimToolsOptions {
  /** A VM gets its IP once it has been seen powered on this long. Default 500 ms. */
  delayMs?: number;
  /** Poll period. Default 200 ms. */
  intervalMs?: number;
  /** The IP for the `n`-th VM (from 1). Default `10.0.<n / 250>.<n % 250 + 2>`. */
  ipFor?: (vm: SimVm, n: number) => string;
}

/** Connection options for `VSphereInstanceProvider` / `VSphereClient`, TLS pinned to vcsim's certificate. */
export interface SimConnection {
  url: string;
  username: string;
  password: string;
  tls: { thumbprint?: string };
}

/** A running vcsim; see {@link startVcsim}. */
export interface RunningVcsim {
  /** `https://user:pass@127.0.0.1:PORT/sdk` (user and password percent-encoded). */
  readonly url: string;
  /** `https://127.0.0.1:PORT/sdk`, without credentials. */
  readonly sdkUrl: string;
  readonly username: string;
  readonly password: string;
  /** SHA-256 thumbprint of vcsim's certificate (`AA:BB:…`); undefined with `tls: false`. */
  readonly thumbprint: string | undefined;
  /** vcsim's self-signed certificate, PEM; undefined with `tls: false`. */
  readonly certificatePem: string | undefined;
  readonly port: number;
  /** Process id of vcsim; undefined once stopped. */
  readonly pid: number | undefined;
  /** The binary that runs. */
  readonly binary: string;
  /** Options to connect the library to it: `new VSphereInstanceProvider({ ...sim.connection, ... })`. */
  readonly connection: SimConnection;
  /** Every VM in the inventory. */
  listVms(): Promise<SimVm[]>;
  /** Makes a VM (by MoRef value) report a guest IP, as VMware Tools would. */
  setGuestIp(vmMoref: string, ip: string): Promise<void>;
  /** Stands in for VMware Tools: every powered-on VM without an IP gets one after `delayMs`. */
  startTools(options?: SimToolsOptions): void;
  stopTools(): void;
  /** Stops vcsim (idempotent). Every VM it made is gone with it. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: false,
  // Numeric references (&#xA; for a newline in an annotation) are decoded only with htmlEntities.
  htmlEntities: true,
  isArray: (name) => ['objects', 'propSet', 'returnval', 'ManagedObjectReference'].includes(name),
});

type XmlNode = Record<string, unknown>;

const XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"';
const XSD = 'xmlns:xsd="http://www.w3.org/2001/XMLSchema"';

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
        agent: false,
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

async function fetchCertificate(url: URL): Promise<{ pem: string; sha256: string }> {
  const socket = tls.connect({
    host: url.hostname,
    port: Number(url.port),
    rejectUnauthorized: false,
    servername: '',
  });
  try {
    await once(socket, 'secureConnect');
    const cert = socket.getPeerCertificate();
    const b64 = cert.raw.toString('base64').replace(/(.{64})/g, '$1\n');
    return {
      pem: `-----BEGIN CERTIFICATE-----\n${b64.replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`,
      sha256: cert.fingerprint256,
    };
  } finally {
    socket.destroy();
  }
}

class VcsimProcess implements RunningVcsim {
  readonly binary: string;
  readonly username: string;
  readonly password: string;
  #child: ChildProcess | undefined;
  #base: URL;
  #certificate: { pem: string; sha256: string } | undefined;
  #cookie: string | undefined;
  #serviceContent: Record<string, string> = {};
  #toolsTimer: NodeJS.Timeout | undefined;

  constructor(
    binary: string,
    child: ChildProcess,
    base: URL,
    credentials: { username: string; password: string },
    certificate: { pem: string; sha256: string } | undefined,
  ) {
    this.binary = binary;
    this.#child = child;
    this.#base = base;
    this.username = credentials.username;
    this.password = credentials.password;
    this.#certificate = certificate;
  }

  get sdkUrl(): string {
    return `${this.#base.protocol}//${this.#base.host}/sdk`;
  }
  get url(): string {
    const u = new URL(this.sdkUrl);
    u.username = encodeURIComponent(this.username);
    u.password = encodeURIComponent(this.password);
    return u.toString();
  }
  get port(): number {
    return Number(this.#base.port);
  }
  get pid(): number | undefined {
    return this.#child?.pid;
  }
  get thumbprint(): string | undefined {
    return this.#certificate?.sha256;
  }
  get certificatePem(): string | undefined {
    return this.#certificate?.pem;
  }
  get connection(): SimConnection {
    return {
      url: this.sdkUrl,
      username: this.username,
      password: this.password,
      tls: this.thumbprint === undefined ? {} : { thumbprint: this.thumbprint },
    };
  }

  /** Sends one SOAP call with hand-written body XML; returns the parsed Body. */
  async soap(method: string, innerXml: string, options: { login?: boolean } = {}): Promise<XmlNode> {
    if (options.login !== false && !this.#cookie) await this.#login();
    const { status, body, setCookie } = await post(this.#base, method, innerXml, this.#cookie);
    if (setCookie) this.#cookie = setCookie;
    const envelope = parser.parse(body) as XmlNode;
    const soapBody = (envelope.Envelope as XmlNode | undefined)?.Body as XmlNode | undefined;
    if (!soapBody) throw new Error(`vcsim answered ${status} without a SOAP body`);
    if (soapBody.Fault) {
      const fault = soapBody.Fault as XmlNode;
      throw new Error(`vcsim fault on ${method}: ${textOf(fault.faultstring) || JSON.stringify(fault)}`);
    }
    return soapBody;
  }

  async #login(): Promise<void> {
    const content = await this.soap(
      'RetrieveServiceContent',
      '<RetrieveServiceContent xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></RetrieveServiceContent>',
      { login: false },
    );
    const returnval = ((content.RetrieveServiceContentResponse as XmlNode).returnval as XmlNode[])[0] ?? {};
    for (const key of ['rootFolder', 'propertyCollector', 'viewManager', 'sessionManager', 'setting']) {
      this.#serviceContent[key] = textOf(returnval[key]);
    }
    await this.soap(
      'Login',
      `<Login xmlns="urn:vim25"><_this type="SessionManager">${this.#serviceContent.sessionManager}</_this><userName>${xmlText(this.username)}</userName><password>${xmlText(this.password)}</password></Login>`,
      { login: false },
    );
  }

  async setSessionTimeout(duration: string): Promise<void> {
    if (!this.#cookie) await this.#login();
    await this.soap(
      'UpdateOptions',
      `<UpdateOptions xmlns="urn:vim25"><_this type="OptionManager">${this.#serviceContent.setting}</_this><changedValue><key>config.vmacore.soap.sessionTimeout</key><value ${XSI} xsi:type="xsd:string" ${XSD}>${xmlText(duration)}</value></changedValue></UpdateOptions>`,
    );
  }

  async listVms(): Promise<SimVm[]> {
    if (!this.#cookie) await this.#login();
    const sc = this.#serviceContent;
    const view = await this.soap(
      'CreateContainerView',
      `<CreateContainerView xmlns="urn:vim25"><_this type="ViewManager">${sc.viewManager}</_this><container type="Folder">${sc.rootFolder}</container><type>VirtualMachine</type><recursive>true</recursive></CreateContainerView>`,
    );
    const viewId = textOf((view.CreateContainerViewResponse as XmlNode).returnval as unknown);
    try {
      const result = await this.soap(
        'RetrievePropertiesEx',
        `<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">${sc.propertyCollector}</_this><specSet><propSet><type>VirtualMachine</type><pathSet>name</pathSet><pathSet>runtime.powerState</pathSet><pathSet>config.annotation</pathSet><pathSet>guest.ipAddress</pathSet><pathSet>parent</pathSet><pathSet>config.template</pathSet></propSet><objectSet><obj type="ContainerView">${viewId}</obj><skip>true</skip><selectSet ${XSI} xsi:type="TraversalSpec"><name>v</name><type>ContainerView</type><path>view</path><skip>false</skip></selectSet></objectSet></specSet><options/></RetrievePropertiesEx>`,
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

  async setGuestIp(vmMoref: string, ip: string): Promise<void> {
    await this.soap(
      'ReconfigVM_Task',
      `<ReconfigVM_Task xmlns="urn:vim25"><_this type="VirtualMachine">${xmlText(vmMoref)}</_this><spec><extraConfig><key>SET.guest.ipAddress</key><value ${XSI} xsi:type="xsd:string" ${XSD}>${xmlText(ip)}</value></extraConfig></spec></ReconfigVM_Task>`,
    );
  }

  startTools(options: SimToolsOptions = {}): void {
    this.stopTools();
    const delayMs = options.delayMs ?? 500;
    const firstSeenOn = new Map<string, number>();
    let counter = 0;
    const tick = async (): Promise<void> => {
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
        // a VM destroyed mid-tick, or vcsim stopping: the next tick sees the new state
      }
      if (this.#toolsTimer) this.#toolsTimer = setTimeout(tick, options.intervalMs ?? 200).unref();
    };
    this.#toolsTimer = setTimeout(tick, 0).unref();
  }

  stopTools(): void {
    if (this.#toolsTimer) clearTimeout(this.#toolsTimer);
    this.#toolsTimer = undefined;
  }

  async stop(): Promise<void> {
    this.stopTools();
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

function vcsimArgs(options: StartVcsimOptions, username: string, password: string): string[] {
  const args = ['-l', `127.0.0.1:${options.port ?? 0}`, '-stdinexit'];
  if (options.esx) args.push('-esx');
  if (options.datacenters !== undefined) args.push('-dc', String(options.datacenters));
  if (options.clusters !== undefined) args.push('-cluster', String(options.clusters));
  if (options.hostsPerCluster !== undefined) args.push('-host', String(options.hostsPerCluster));
  if (options.standaloneHosts !== undefined) args.push('-standalone-host', String(options.standaloneHosts));
  if (options.vms !== undefined) args.push('-vm', String(options.vms));
  if (options.tls === false) args.push('-tls=false');
  args.push('-username', username, '-password', password);
  return args;
}

async function binaryFor(options: StartVcsimOptions): Promise<string> {
  try {
    return locateVcsim(options);
  } catch (error) {
    if (!(error instanceof VcsimNotFoundError) || !options.install || options.binary !== undefined)
      throw error;
    if ((options.env ?? process.env).VCSIM) throw error;
    return installVcsim(options);
  }
}

/**
 * Starts a vcsim on a free loopback port and waits until it serves. Stop it with `stop()` (or
 * `await using sim = await startVcsim()`); it also exits by itself when this process ends.
 *
 * The binary: `binary`, else `$VCSIM`, else the launcher {@link installVcsim} built into the cache,
 * else `vcsim` on `PATH`; with `install: true`, a missing launcher is built first (needs Go).
 */
export async function startVcsim(options: StartVcsimOptions = {}): Promise<RunningVcsim> {
  const binary = await binaryFor(options);
  const username = options.username ?? 'user';
  const password = options.password ?? 'pass';
  const child = spawn(binary, vcsimArgs(options, username, password), {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: options.env ?? process.env,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  let base: URL;
  try {
    const printed = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(
        () => reject(new Error(`vcsim (${binary}) did not start in ${startTimeoutMs} ms: ${stderr.trim()}`)),
        startTimeoutMs,
      );
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /GOVC_URL=(\S+)/.exec(out);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`cannot run vcsim (${binary}): ${error.message}`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`vcsim (${binary}) exited with ${code} before serving: ${stderr.trim()}`));
      });
    });
    base = new URL(printed);
    base.username = '';
    base.password = '';
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  // Neither vcsim nor its pipes keep this process alive; -stdinexit ends vcsim when it exits.
  child.stdout?.resume();
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as Socket | null)?.unref?.();
  let certificate: { pem: string; sha256: string } | undefined;
  try {
    if (base.protocol === 'https:') certificate = await fetchCertificate(base);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const sim = new VcsimProcess(binary, child, base, { username, password }, certificate);
  if (options.sessionTimeout !== undefined) {
    try {
      await sim.setSessionTimeout(options.sessionTimeout);
    } catch (error) {
      await sim.stop();
      throw error;
    }
  }
  return sim;
}

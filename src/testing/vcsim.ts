/**
 * Starts and stops a vcsim (govmomi's vCenter simulator) on a free loopback port, for integration
 * tests of applications built on this library. It talks to vcsim with hand-written SOAP, not with
 * the library, so a bug in the library cannot hide itself in the simulator's helpers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { installVcsim, type LocateVcsimOptions, locateVcsim, VcsimNotFoundError } from './locate.ts';
import {
  fetchCertificate,
  SimSession,
  type SimToolsOptions,
  type SimVm,
  type XmlNode,
} from './sim-session.ts';

export type { SimToolsOptions, SimVm } from './sim-session.ts';

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

class VcsimProcess implements RunningVcsim {
  readonly binary: string;
  readonly username: string;
  readonly password: string;
  #child: ChildProcess | undefined;
  #base: URL;
  #certificate: { pem: string; sha256: string } | undefined;
  readonly #session: SimSession;

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
    // A connection per call: a kept-alive socket would hold the test process open.
    this.#session = new SimSession({ base: () => this.#base, ...credentials, agent: false });
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
  soap(method: string, innerXml: string, options: { login?: boolean } = {}): Promise<XmlNode> {
    return this.#session.soap(method, innerXml, options);
  }

  setSessionTimeout(duration: string): Promise<void> {
    return this.#session.setSessionTimeout(duration);
  }

  listVms(): Promise<SimVm[]> {
    return this.#session.listVms();
  }

  setGuestIp(vmMoref: string, ip: string): Promise<void> {
    return this.#session.setGuestIp(vmMoref, ip);
  }

  startTools(options: SimToolsOptions = {}): void {
    this.#session.startTools(options);
  }

  stopTools(): void {
    this.#session.stopTools();
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

/**
 * A loopback HTTP proxy that sits between the library and vcsim and misbehaves on purpose:
 * connection resets, HTTP 503s, latency with jitter, truncated bodies, stalls, lost answers and
 * forged bodies, and a freeze of everything (held, then answered). Faults are chosen per request by rules that match the SOAP method (the first
 * element inside the SOAP Body) or the path (the vimServiceVersions.xml GET), and fire always, a
 * number of times, or at a rate drawn from a seeded RNG, so a failing schedule can be replayed
 * from its seed. Counters say what it did, and `requests` what was asked (with its SOAPAction).
 *
 * The proxy speaks plain HTTP to the library (point the transport at `proxy.sdkUrl`), or HTTPS with
 * a certificate of its own (a man in the middle), and forwards to vcsim over HTTP or HTTPS (the
 * upstream certificate is not checked: vcsim's is self-signed and the proxy is a test tool on
 * loopback).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { seededRandom } from './rng.ts';

export type Fault =
  /** Close the client connection before anything is forwarded: the request never reaches vCenter. */
  | { kind: 'reset' }
  /** Forward, let vCenter act, then close the client connection without an answer (a lost answer). */
  | { kind: 'drop' }
  /** Answer `status` (default 503) with a short HTML page. `forward`: vCenter acted first. */
  | { kind: 'status'; status?: number; forward?: boolean }
  /** Wait `ms` ± `jitterMs` before forwarding. Other rules still apply to the request. */
  | { kind: 'latency'; ms: number; jitterMs?: number }
  /** Forward, then send the headers (full Content-Length) and only `bytes` of the body, and close. */
  | { kind: 'truncate'; bytes?: number }
  /** Hold the request unanswered for `ms` (default: until the client gives up or the proxy closes), then close. */
  | { kind: 'stall'; ms?: number }
  /**
   * Answer with this body instead (status default 200, `text/xml`). A function receives vCenter's
   * real answer (the request is then forwarded first) and returns the forged one.
   */
  | { kind: 'body'; status?: number; body: string | Buffer | ((upstream: string) => string | Buffer) };

export type FaultKind = Fault['kind'];

export interface FaultRule {
  /** SOAP method (exact name or pattern); absent: every request, SOAP or not. */
  method?: string | RegExp;
  /** Request path without the query (exact or pattern), e.g. `/sdk/vimServiceVersions.xml` for the GET. */
  path?: string | RegExp;
  /** Probability that a matching request gets the fault (default 1), from the seeded RNG. */
  rate?: number;
  /** Matching requests let through before the rule starts firing (default 0). */
  after?: number;
  /** Fire at most this many times (default: no limit). */
  times?: number;
  fault: Fault;
}

export interface FaultProxyOptions {
  /** Where vcsim listens, e.g. `sim.sdkUrl` (path ignored; the client's path is kept). */
  upstream: string;
  rules?: FaultRule[];
  /** Seed of the RNG that decides `rate` and jitter (default 1). */
  seed?: number;
  /** Serve HTTPS with this key and certificate (a man in the middle with its own certificate). */
  tls?: { key: string; cert: string };
}

/** One request the proxy received. */
export interface RequestRecord {
  /** The SOAP method, or `(http)`. */
  method: string;
  httpMethod: string;
  path: string;
  /** The SOAPAction header as sent (`urn:vim25/8.0.3.0`), if any. */
  soapAction: string | undefined;
  /** When it arrived (`Date.now()`), for request rates. */
  at: number;
}

/** One fault the proxy injected. */
export interface FaultEvent {
  method: string;
  kind: FaultKind;
  at: number;
}

interface ActiveRule extends FaultRule {
  seen: number;
  fired: number;
}

export interface MethodCounts {
  /** Requests received for the method. */
  requests: number;
  /** Requests that reached vCenter. */
  forwarded: number;
  /** Faults injected, by kind. */
  faults: Partial<Record<FaultKind, number>>;
}

const NOT_SOAP = '(http)';
const FIRST_BODY_ELEMENT = /<(?:[\w.-]+:)?Body\b[^>]*>\s*<(?:[\w.-]+:)?([\w.-]+)/;

/** The SOAP method of a request body: the local name of the first element inside the Body. */
export function soapMethodOf(body: string): string | undefined {
  return FIRST_BODY_ELEMENT.exec(body)?.[1];
}

export class FaultProxy {
  readonly upstream: URL;
  private readonly server: http.Server | https.Server;
  private readonly scheme: 'http' | 'https';
  private readonly agent: http.Agent;
  private readonly sockets = new Set<Socket>();
  private readonly stalled = new Set<NodeJS.Timeout>();
  private rules: ActiveRule[] = [];
  private frozen: { gate: Promise<void>; open: () => void } | undefined;
  private random: () => number;
  private port = 0;
  /** Every fault injected, in order. */
  readonly events: FaultEvent[] = [];
  /** Every request received, in order. */
  readonly requests: RequestRecord[] = [];
  /** Counts by SOAP method (`(http)` for non-SOAP requests such as uploads). */
  readonly methods = new Map<string, MethodCounts>();
  /** Totals. */
  readonly totals = { requests: 0, forwarded: 0, faults: 0 };
  /** Connections accepted (for HTTPS: TLS handshakes completed). */
  connections = 0;
  /** Every session cookie vCenter handed out through the proxy (to look for leaks of them). */
  readonly cookies = new Set<string>();
  /** Requests whose body held a watched secret, by SOAP method (see {@link watchSecret}). */
  readonly secretSightings = new Map<string, number>();
  private readonly watchedSecrets = new Set<string>();

  private constructor(options: FaultProxyOptions) {
    this.upstream = new URL(options.upstream);
    this.random = seededRandom(options.seed ?? 1);
    this.setRules(options.rules ?? []);
    this.agent =
      this.upstream.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, maxSockets: 64, rejectUnauthorized: false })
        : new http.Agent({ keepAlive: true, maxSockets: 64 });
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.onRequest(req, res).catch(() => {
        res.socket?.destroy();
      });
    };
    this.scheme = options.tls ? 'https' : 'http';
    this.server = options.tls
      ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, handler)
      : http.createServer(handler);
    this.server.keepAliveTimeout = 60_000;
    // TLS handshakes (refused or not) count as connections too: `connections` says whether a
    // client got as far as a socket, `totals.requests` whether it sent a request.
    this.server.on(options.tls ? 'secureConnection' : 'connection', () => {
      this.connections += 1;
    });
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /** Starts a proxy on a free loopback port. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(options);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', () => {
        proxy.server.off('error', reject);
        resolve();
      });
    });
    proxy.port = (proxy.server.address() as AddressInfo).port;
    return proxy;
  }

  /** `http(s)://127.0.0.1:PORT/sdk`: give this to the library instead of vcsim's URL. */
  get sdkUrl(): string {
    return `${this.scheme}://127.0.0.1:${this.port}/sdk`;
  }

  /** Replaces the rules (their counters start at zero). */
  setRules(rules: FaultRule[]): void {
    this.rules = rules.map((rule) => ({ ...rule, seen: 0, fired: 0 }));
  }

  /** Adds one rule after the others. */
  addRule(rule: FaultRule): void {
    this.rules.push({ ...rule, seen: 0, fired: 0 });
  }

  /**
   * Counts the requests whose body holds `value` (raw or XML-escaped as the library writes it), by SOAP method, in
   * {@link secretSightings}: where a password really went on the wire.
   */
  watchSecret(value: string): void {
    this.watchedSecrets.add(value);
    this.watchedSecrets.add(
      value
        .replace(/&/g, '&amp;')
        .replace(/</g, '&lt;')
        .replace(/>/g, '&gt;')
        .replace(/"/g, '&quot;')
        .replace(/'/g, '&apos;'),
    );
  }

  /** Requests received per whole second of `[from, to)` (ms since the epoch), oldest first. */
  requestsPerSecond(from: number, to: number): number[] {
    const buckets = new Array<number>(Math.max(1, Math.ceil((to - from) / 1000))).fill(0);
    for (const r of this.requests) {
      if (r.at >= from && r.at < to) buckets[Math.floor((r.at - from) / 1000)]! += 1;
    }
    return buckets;
  }

  /** Re-seeds the RNG (to replay a schedule). */
  reseed(seed: number): void {
    this.random = seededRandom(seed);
  }

  /** Counts of one method (zeros when it was never seen). */
  count(method: string): MethodCounts {
    return this.methods.get(method) ?? { requests: 0, forwarded: 0, faults: {} };
  }

  /** Faults injected of one kind (optionally for one method). */
  faults(kind: FaultKind, method?: string): number {
    return this.events.filter((e) => e.kind === kind && (method === undefined || e.method === method)).length;
  }

  /** Stops listening and cuts every connection (stalled requests included). */
  async close(): Promise<void> {
    this.thaw();
    for (const timer of this.stalled) clearTimeout(timer);
    this.stalled.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.agent.destroy();
    await closed;
  }

  /**
   * vCenter freezes: every request from now on is held, unanswered, until {@link thaw}; then all
   * are handled in order (the rules apply then), answered if their client still waits. A client
   * that gave up meanwhile may still have its write done: its answer is lost.
   */
  freeze(): void {
    if (this.frozen) return;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    this.frozen = { gate, open };
  }

  /** Ends a {@link freeze}: the held requests go on. */
  thaw(): void {
    this.frozen?.open();
    this.frozen = undefined;
  }

  /** Cuts every open client connection (as a network blip would). */
  cutAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  private counts(method: string): MethodCounts {
    let counts = this.methods.get(method);
    if (!counts) {
      counts = { requests: 0, forwarded: 0, faults: {} };
      this.methods.set(method, counts);
    }
    return counts;
  }

  private record(method: string, kind: FaultKind): void {
    const counts = this.counts(method);
    counts.faults[kind] = (counts.faults[kind] ?? 0) + 1;
    this.totals.faults += 1;
    this.events.push({ method, kind, at: Date.now() });
  }

  /** The faults for one request: every latency that fires, then at most one other fault. */
  private choose(method: string | undefined, path: string): Fault[] {
    const chosen: Fault[] = [];
    let terminal = false;
    for (const rule of this.rules) {
      if (rule.method !== undefined) {
        if (method === undefined) continue;
        if (typeof rule.method === 'string' ? rule.method !== method : !rule.method.test(method)) continue;
      }
      if (rule.path !== undefined) {
        if (typeof rule.path === 'string' ? rule.path !== path : !rule.path.test(path)) continue;
      }
      const isLatency = rule.fault.kind === 'latency';
      if (terminal && !isLatency) continue;
      rule.seen += 1;
      if (rule.seen <= (rule.after ?? 0)) continue;
      if (rule.times !== undefined && rule.fired >= rule.times) continue;
      if (rule.rate !== undefined && this.random() >= rule.rate) continue;
      rule.fired += 1;
      chosen.push(rule.fault);
      if (!isLatency) terminal = true;
    }
    return chosen;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const path = (req.url ?? '').split('?')[0] ?? '';
    const isSoap = req.method === 'POST' && /\/sdk\/?$/.test(path);
    const soapMethod = isSoap ? soapMethodOf(body.toString('utf8')) : undefined;
    const name = soapMethod ?? NOT_SOAP;
    const counts = this.counts(name);
    counts.requests += 1;
    this.totals.requests += 1;
    const soapAction = req.headers.soapaction;
    this.requests.push({
      method: name,
      httpMethod: req.method ?? '',
      path,
      soapAction: Array.isArray(soapAction) ? soapAction[0] : soapAction,
      at: Date.now(),
    });
    if (this.watchedSecrets.size > 0) {
      const text = body.toString('utf8');
      if ([...this.watchedSecrets].some((secret) => text.includes(secret))) {
        this.secretSightings.set(name, (this.secretSightings.get(name) ?? 0) + 1);
      }
    }

    if (this.frozen) await this.frozen.gate;
    const faults = this.choose(soapMethod, path);
    for (const fault of faults) {
      if (fault.kind !== 'latency') continue;
      const jitter = fault.jitterMs ?? 0;
      const ms = Math.max(0, fault.ms + (jitter ? (this.random() * 2 - 1) * jitter : 0));
      this.record(name, 'latency');
      await new Promise((resolve) => setTimeout(resolve, ms));
    }
    const fault = faults.find((f) => f.kind !== 'latency');
    if (fault) this.record(name, fault.kind);

    switch (fault?.kind) {
      case 'reset':
        req.socket.destroy();
        return;
      case 'stall': {
        if (fault.ms !== undefined) {
          const timer = setTimeout(() => {
            this.stalled.delete(timer);
            req.socket.destroy();
          }, fault.ms);
          this.stalled.add(timer);
        }
        return; // never answered
      }
      case 'status':
        if (fault.forward) await this.forward(req, body, name);
        sendPage(res, fault.status ?? 503);
        return;
      case 'body': {
        let forged: string | Buffer;
        if (typeof fault.body === 'function') {
          const upstream = await this.forward(req, body, name);
          forged = fault.body(upstream.body.toString('utf8'));
        } else {
          forged = fault.body;
        }
        const bytes = typeof forged === 'string' ? Buffer.from(forged, 'utf8') : forged;
        res.writeHead(fault.status ?? 200, {
          'content-type': 'text/xml; charset=utf-8',
          'content-length': bytes.length,
        });
        res.end(bytes);
        return;
      }
      default:
        break;
    }

    const upstream = await this.forward(req, body, name);
    if (fault?.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    const headers = { ...upstream.headers };
    delete headers['transfer-encoding'];
    delete headers.connection;
    delete headers['keep-alive'];
    headers['content-length'] = String(upstream.body.length);
    if (fault?.kind === 'truncate') {
      const keep = Math.min(fault.bytes ?? Math.floor(upstream.body.length / 2), upstream.body.length - 1);
      res.writeHead(upstream.status, headers);
      res.write(upstream.body.subarray(0, Math.max(0, keep)));
      // Let the partial body leave before the connection is cut.
      setTimeout(() => req.socket.destroy(), 20);
      return;
    }
    res.writeHead(upstream.status, headers);
    res.end(upstream.body);
  }

  private forward(
    req: IncomingMessage,
    body: Buffer,
    name: string,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    const headers = { ...req.headers, host: this.upstream.host, 'content-length': String(body.length) };
    delete headers.connection;
    delete headers['transfer-encoding'];
    const transport = this.upstream.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const outgoing = transport.request(
        {
          agent: this.agent,
          hostname: this.upstream.hostname,
          port: this.upstream.port,
          path: req.url,
          method: req.method,
          headers,
        },
        (upstream) => {
          for (const line of upstream.headers['set-cookie'] ?? []) {
            const value = /vmware_soap_session=([^;]+)/.exec(line)?.[1];
            if (value) this.cookies.add(value.replace(/^"|"$/g, ''));
          }
          const parts: Buffer[] = [];
          upstream.on('data', (chunk: Buffer) => parts.push(chunk));
          upstream.on('error', reject);
          upstream.on('end', () =>
            resolve({
              status: upstream.statusCode ?? 502,
              headers: upstream.headers,
              body: Buffer.concat(parts),
            }),
          );
        },
      );
      outgoing.on('error', reject);
      this.counts(name).forwarded += 1;
      this.totals.forwarded += 1;
      outgoing.end(body);
    });
  }
}

function sendPage(res: ServerResponse, status: number): void {
  const page = `<html><body><h1>${status} ${http.STATUS_CODES[status] ?? ''}</h1>injected by the fault proxy</body></html>`;
  res.writeHead(status, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(page) });
  res.end(page);
}

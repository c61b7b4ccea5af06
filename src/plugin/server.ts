/**
 * The InfraKit plugin server: HTTP/1.1 + JSON-RPC 2.0 over a unix socket, driving one
 * {@link InstancePlugin} per subtype. Speaks both handshake generations from one server:
 * `Handshake.Implements`/`Handshake.Types` (Instance/0.6.0, 2017 clients) and `Handshake.Hello`
 * (Instance/0.6.1, 2018 clients). See docs/infrakit.md.
 *
 * Socket placement and pid files live in ./socket.ts; this module only serves.
 */

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ValidationError, VSphereError } from '../errors.ts';
import { logger } from '../log.ts';
import type { InstanceDescription, InstancePlugin, JsonValue } from '../spi/instance.ts';
import { NotFoundError } from '../vsphere/errors.ts';
import { echoConfigHash, mirrorHashLabels, splitHashQuery } from './config-hash.ts';
import {
  formatError,
  formatResult,
  JsonRpcError,
  NULL_ID,
  parseRequest,
  RpcErrorCode,
  type RpcId,
  type RpcRequest,
} from './jsonrpc.ts';
import {
  decodeDescribe,
  decodeDestroy,
  decodeLabel,
  decodeProvision,
  decodeValidate,
  member,
} from './params.ts';

/** The plugin's vendor, shown in `/info/api.json`. */
export interface VendorInfo {
  Name: string;
  Version: string;
  URL: string;
}

/** A `debug`-style logger: printf-like formatter, then arguments. */
export type PluginLogger = (formatter: string, ...args: unknown[]) => void;

/** Work that failed after its request had already been answered (a slow Destroy). */
export interface PluginBackgroundFailure {
  method: string;
  type: string;
  instance: string;
  error: unknown;
}

/** Options of {@link PluginServer}. */
export interface PluginServerOptions {
  /** One instance plugin per subtype; the key `''` (or `'.'`) is the default type. */
  plugins: Record<string, InstancePlugin>;
  vendor?: VendorInfo;
  /** Defaults to `debug('infrakit:vsphere:plugin')`. Never given request bodies. */
  logger?: PluginLogger;
  /** Called when work finishing after its answer fails. Defaults to logging it. */
  onBackgroundError?: (failure: PluginBackgroundFailure) => void;
  /** Largest accepted request body. Default 1 MiB. */
  maxBodyBytes?: number;
  /** How long Destroy may take before it is answered OK and finished in the background. Default 800 ms. */
  answerWithinMs?: number;
  /** A request (headers and body) must arrive within this. Default 30 s. */
  requestTimeoutMs?: number;
  /** Request headers must arrive within this. Default 10 s. */
  headersTimeoutMs?: number;
  /** Example `Properties` shown in `/info/api.json`. */
  exampleProperties?: JsonValue;
}

/** Loopback addresses a TCP listener may bind to: the plugin API has no authentication. */
export type LoopbackHost = '127.0.0.1' | '::1' | 'localhost';

/** Where {@link PluginServer.listen} listens: a unix socket (InfraKit's way) or loopback TCP. */
export type ListenOptions = { socketPath: string } | { host?: LoopbackHost; port: number };

/** The interface versions this server speaks. */
export const INSTANCE_INTERFACE = { Name: 'Instance', Version: '0.6.0' } as const;
/** `Handshake.Hello` reports the 2018 interface version; the methods are the same. */
export const INSTANCE_INTERFACE_HELLO = { Name: 'Instance', Version: '0.6.1' } as const;

const DEFAULT_VENDOR: VendorInfo = {
  Name: 'infrakit-instance-vsphere',
  Version: 'unknown',
  URL: 'https://www.npmjs.com/package/infrakit-instance-vsphere',
};

const DEFAULT_EXAMPLE_PROPERTIES: JsonValue = {
  Datacenter: 'Datacenter',
  Datastore: 'datastore1',
  Hostname: 'esxi1.example.com',
  Network: 'VM Network',
  Template: 'linuxkit-template',
  CPUs: 1,
  Memory: 1024,
  PowerOn: true,
};

const METHOD_NAMES = [
  'Instance.Validate',
  'Instance.Provision',
  'Instance.Label',
  'Instance.Destroy',
  'Instance.DescribeInstances',
] as const;

const JSON_HEADERS = { 'Content-Type': 'application/json; charset=utf-8' } as const;

function invalidOption(name: string, expected: string): VSphereError {
  return new VSphereError('INVALID_OPTION', `PluginServer option ${name}: expected ${expected}`);
}

function positiveInteger(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) throw invalidOption(name, 'a positive integer');
  return value;
}

function isInstancePlugin(value: unknown): value is InstancePlugin {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return ['validate', 'provision', 'label', 'destroy', 'describe'].every(
    (name) => typeof candidate[name] === 'function',
  );
}

/** Calls `fn`, turning a synchronous throw into a rejection. */
function attempt<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}

/** What a failure looks like on the wire and in the log. */
function describeFailure(error: unknown): { rpcCode: number; message: string; code: string } {
  if (error instanceof JsonRpcError)
    return { rpcCode: error.rpcCode, message: error.message, code: error.code };
  if (error instanceof ValidationError) {
    // InfraKit's client shows only `message` (and `data` must stay null), so every issue goes there.
    const missing = error.issues.filter(
      (issue) => !error.message.includes(`${issue.field}: ${issue.message}`),
    );
    const extra = missing.map((issue) => `${issue.field}: ${issue.message}`).join('; ');
    return {
      rpcCode: RpcErrorCode.serverError,
      message: extra === '' ? error.message : `${error.message}; ${extra}`,
      code: error.code,
    };
  }
  if (error instanceof VSphereError)
    return { rpcCode: RpcErrorCode.serverError, message: error.message, code: error.code };
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      rpcCode: RpcErrorCode.serverError,
      message: error.message === '' ? error.name : error.message,
      code: typeof code === 'string' ? code : 'ERROR',
    };
  }
  return { rpcCode: RpcErrorCode.serverError, message: String(error), code: 'UNKNOWN' };
}

function shorten(text: string, max = 64): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

type MethodHandler = (params: { [key: string]: JsonValue }) => Promise<unknown>;

/** An InfraKit instance plugin server. Construct, {@link listen}, and {@link close} when done. */
export class PluginServer {
  readonly #plugins = new Map<string, InstancePlugin>();
  readonly #vendor: VendorInfo;
  readonly #log: PluginLogger;
  readonly #onBackgroundError: (failure: PluginBackgroundFailure) => void;
  readonly #maxBodyBytes: number;
  readonly #answerWithinMs: number;
  readonly #methods: ReadonlyMap<string, MethodHandler>;
  readonly #apiJson: string;
  readonly #http: Server;
  readonly #background = new Set<Promise<void>>();
  #closing: Promise<void> | undefined;

  constructor(options: PluginServerOptions) {
    if (typeof options !== 'object' || options === null) throw invalidOption('options', 'an object');
    const { plugins } = options;
    if (typeof plugins !== 'object' || plugins === null) throw invalidOption('plugins', 'an object');
    for (const [key, plugin] of Object.entries(plugins)) {
      const type = key === '.' ? '' : key;
      if (type.includes('/')) throw invalidOption(`plugins["${key}"]`, 'a subtype name without "/"');
      if (!isInstancePlugin(plugin)) throw invalidOption(`plugins["${key}"]`, 'an InstancePlugin');
      if (this.#plugins.has(type)) throw invalidOption('plugins', 'one default plugin ("" or "."), not both');
      this.#plugins.set(type, plugin);
    }
    if (this.#plugins.size === 0) throw invalidOption('plugins', 'at least one plugin');

    this.#vendor = options.vendor ?? DEFAULT_VENDOR;
    const log = options.logger ?? logger('infrakit:vsphere:plugin');
    // A throwing logger must not turn an answered request into an unhandled rejection.
    this.#log = (formatter, ...args) => {
      try {
        log(formatter, ...args);
      } catch {
        // nothing sensible left to report it to
      }
    };
    this.#onBackgroundError =
      options.onBackgroundError ??
      ((failure) =>
        this.#log(
          '%s type=%s instance=%s failed in background: %s',
          failure.method,
          failure.type,
          failure.instance,
          describeFailure(failure.error).message,
        ));
    this.#maxBodyBytes = positiveInteger(options.maxBodyBytes, 'maxBodyBytes', 1024 * 1024);
    const answerWithinMs = options.answerWithinMs ?? 800;
    if (!Number.isFinite(answerWithinMs) || answerWithinMs < 0) {
      throw invalidOption('answerWithinMs', 'a finite number >= 0');
    }
    this.#answerWithinMs = answerWithinMs;
    const requestTimeout = positiveInteger(options.requestTimeoutMs, 'requestTimeoutMs', 30_000);
    const headersTimeout = Math.min(
      positiveInteger(options.headersTimeoutMs, 'headersTimeoutMs', 10_000),
      requestTimeout,
    );

    this.#methods = this.#buildMethods();
    this.#apiJson = JSON.stringify(this.#apiInfo(options.exampleProperties ?? DEFAULT_EXAMPLE_PROPERTIES));
    // Loaded here, not imported: an ES import of node:http costs every user of the package a
    // cold-start penalty (undici's lazy exports), server or not (P6 in docs/performance.md).
    this.#http = process.getBuiltinModule('node:http').createServer(
      {
        requestTimeout,
        headersTimeout,
        // Node checks both timeouts on this period; the default (30 s) would let slow clients linger.
        connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeout / 2))),
        // Longer than any client-side idle timeout, so idle connections are closed by the client
        // (a Go client whose pooled connection the server just closed may fail a POST).
        keepAliveTimeout: 65_000,
      },
      (req, res) => this.#onRequest(req, res),
    );
    this.#http.on('error', (error) => this.#log('server error: %s', error.message));
  }

  /** Subtype names as the handshakes list them: `.` for the default, first. */
  get types(): string[] {
    const names = [...this.#plugins.keys()].map((key) => (key === '' ? '.' : key));
    return names.sort((a, b) => (a === '.' ? -1 : b === '.' ? 1 : a.localeCompare(b)));
  }

  /**
   * Answers one JSON-RPC body, without HTTP: the reply body, or `null` for a notification.
   * Never rejects.
   */
  async handle(body: string): Promise<string | null> {
    const started = performance.now();
    const parsed = parseRequest(body);
    if (!parsed.ok) {
      const failure = describeFailure(parsed.error);
      this.#log(
        'rejected request id=%s code=%s rpc=%d: %s',
        shorten(parsed.id.source),
        failure.code,
        failure.rpcCode,
        failure.message,
      );
      return parsed.notification ? null : formatError(parsed.id, failure.rpcCode, failure.message);
    }
    return this.#invoke(parsed.request, started);
  }

  /** Starts listening. Resolves once the socket (or port) accepts connections. */
  listen(options: ListenOptions): Promise<void> {
    if (this.#http.listening)
      return Promise.reject(new VSphereError('ALREADY_LISTENING', 'the server is already listening'));
    if (this.#closing !== undefined)
      return Promise.reject(new VSphereError('SERVER_CLOSED', 'the server was closed'));
    return new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      this.#http.once('error', onError);
      const done = (): void => {
        this.#http.off('error', onError);
        resolve();
      };
      if ('socketPath' in options) {
        this.#http.listen({ path: options.socketPath }, done);
      } else {
        const host = options.host ?? '127.0.0.1';
        if (!['127.0.0.1', '::1', 'localhost'].includes(host)) {
          this.#http.off('error', onError);
          reject(invalidOption('listen.host', 'a loopback address (the plugin API has no authentication)'));
          return;
        }
        this.#http.listen({ host, port: options.port }, done);
      }
    });
  }

  /** The bound address: the socket path, or the TCP address; `null` before listening. */
  address(): string | AddressInfo | null {
    return this.#http.address();
  }

  /**
   * Stops accepting connections at once, lets requests in progress finish and waits for
   * background work, both within one `graceMs` (default 5 s) from the call: connections still
   * open then are cut, background work still running is left to its owner (and logged).
   */
  close(options: { graceMs?: number } = {}): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    const graceMs = options.graceMs ?? 5000;
    // The listener closes synchronously here, before any await: socket.ts relies on that to remove
    // the socket file only after nothing can connect to it any more.
    const stopped = new Promise<void>((resolve) => {
      this.#http.close(() => resolve());
    });
    this.#http.closeIdleConnections();
    const deadline = performance.now() + graceMs;
    this.#closing = (async () => {
      const cut = setTimeout(() => this.#http.closeAllConnections(), graceMs);
      await stopped;
      clearTimeout(cut);
      // One grace for both: the requests' time comes out of what background work may still take.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.settled(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, Math.max(0, deadline - performance.now()));
        }),
      ]);
      clearTimeout(timer);
      if (this.#background.size > 0) {
        this.#log('closed with %d background operation(s) still running', this.#background.size);
      }
    })();
    return this.#closing;
  }

  /** Resolves when every operation still running after its answer (slow Destroys) has finished. */
  async settled(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
  }

  // --- JSON-RPC ---

  async #invoke(request: RpcRequest, started: number): Promise<string | null> {
    const type = member(request.params, 'Type');
    const typeLabel = typeof type === 'string' ? shorten(type) : '';
    const idLabel = request.id === undefined ? '(notification)' : shorten(request.id.source);
    const reply = (id: RpcId | undefined, body: () => string): string | null =>
      id === undefined ? null : body();
    const handler = this.#methods.get(request.method);
    try {
      if (handler === undefined) {
        throw new JsonRpcError(RpcErrorCode.methodNotFound, `method not found: ${request.method}`);
      }
      const result = await handler(request.params);
      this.#log(
        '%s type=%s id=%s %dms ok',
        request.method,
        typeLabel,
        idLabel,
        Math.round(performance.now() - started),
      );
      return reply(request.id, () => formatResult(request.id ?? NULL_ID, result));
    } catch (error) {
      const failure = describeFailure(error);
      this.#log(
        '%s type=%s id=%s %dms failed code=%s rpc=%d: %s',
        shorten(request.method),
        typeLabel,
        idLabel,
        Math.round(performance.now() - started),
        failure.code,
        failure.rpcCode,
        failure.message,
      );
      return reply(request.id, () => formatError(request.id ?? NULL_ID, failure.rpcCode, failure.message));
    }
  }

  #resolve(type: string): InstancePlugin {
    const key = type === '.' ? '' : type;
    const direct = this.#plugins.get(key);
    if (direct !== undefined) return direct;
    // Like InfraKit's own servers: with a single plugin, the default type reaches it whatever its name.
    if (key === '' && this.#plugins.size === 1) {
      const [only] = this.#plugins.values();
      if (only !== undefined) return only;
    }
    // A full name such as "instance-vsphere/compute" selects "compute".
    const slash = key.indexOf('/');
    if (slash >= 0) {
      const shifted = this.#plugins.get(key.slice(slash + 1));
      if (shifted !== undefined) return shifted;
    }
    throw new VSphereError('NO_PLUGIN', `no-plugin:${type}`);
  }

  #buildMethods(): Map<string, MethodHandler> {
    const methods = new Map<string, MethodHandler>();
    methods.set('Handshake.Implements', async () => ({ APIs: [{ ...INSTANCE_INTERFACE }] }));
    methods.set('Handshake.Types', async () => ({
      Types: { [`${INSTANCE_INTERFACE.Name}/${INSTANCE_INTERFACE.Version}`]: this.types },
    }));
    methods.set('Handshake.Hello', async () => ({
      Objects: {
        [`${INSTANCE_INTERFACE_HELLO.Name}/${INSTANCE_INTERFACE_HELLO.Version}`]: this.types.map((Name) => ({
          Name,
          ProxyFor: '',
        })),
      },
    }));
    methods.set('Instance.Validate', async (params) => {
      const { Type, Properties } = decodeValidate(params);
      await this.#resolve(Type).validate(Properties);
      return { Type, OK: true };
    });
    methods.set('Instance.Provision', async (params) => {
      const { Type, Spec } = decodeProvision(params);
      // wait:false: the 2017 Go client gives up after 1 s; the provider answers with the ID as soon
      // as the work is safely started and reports the instance as pending until it exists.
      const ID = await this.#resolve(Type).provision(Spec, { wait: false });
      return { Type, ID };
    });
    methods.set('Instance.Label', async (params) => {
      const { Type, Instance, Labels } = decodeLabel(params);
      await this.#resolve(Type).label(Instance, mirrorHashLabels(Labels));
      return { Type, OK: true };
    });
    methods.set('Instance.Destroy', async (params) => {
      const { Type, Instance, Context } = decodeDestroy(params);
      const plugin = this.#resolve(Type);
      await this.#withinWindow('Instance.Destroy', Type, Instance, () =>
        plugin.destroy(Instance, Context).catch((error: unknown) => {
          // The group controller destroys what it described; an instance gone since (destroyed by
          // hand, or by an earlier Destroy whose answer was lost) is what it asked for, and an
          // error would only make it try again for ever. Anything else, a VM InfraKit does not
          // manage included, stays an error.
          if (!(error instanceof NotFoundError && error.kind === 'vm')) throw error;
          this.#log('Instance.Destroy type=%s instance=%s: already gone', shorten(Type), shorten(Instance));
        }),
      );
      return { Type, OK: true };
    });
    methods.set('Instance.DescribeInstances', async (params) => {
      const { Type, Tags, Properties } = decodeDescribe(params);
      const query = splitHashQuery(Tags);
      const found: unknown = await this.#resolve(Type).describe(query.tags, { properties: Properties });
      if (found !== undefined && found !== null && !Array.isArray(found)) {
        throw new VSphereError('PLUGIN_CONTRACT', 'describe did not return an array');
      }
      const descriptions = (found ?? []) as InstanceDescription[];
      return { Type, Descriptions: echoConfigHash(descriptions, query) };
    });
    return methods;
  }

  /**
   * Runs `work`; if it settles within `answerWithinMs`, its outcome is the answer. Otherwise the
   * answer is OK and the work finishes in the background, where a failure is reported through
   * `onBackgroundError` (never thrown, never an unhandled rejection).
   */
  async #withinWindow(
    method: string,
    type: string,
    instance: string,
    work: () => Promise<void>,
  ): Promise<void> {
    const running = attempt(work);
    const outcome = await new Promise<'done' | 'late'>((resolve, reject) => {
      const timer = setTimeout(() => resolve('late'), this.#answerWithinMs);
      running.then(
        () => {
          clearTimeout(timer);
          resolve('done');
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
    if (outcome === 'done') return;
    const started = performance.now();
    this.#log(
      '%s type=%s instance=%s still running after %dms: answered OK',
      method,
      type,
      instance,
      this.#answerWithinMs,
    );
    const tracked: Promise<void> = running.then(
      () => {
        this.#log(
          '%s type=%s instance=%s finished in background after %dms more',
          method,
          type,
          instance,
          Math.round(performance.now() - started),
        );
      },
      (error: unknown) => {
        try {
          this.#onBackgroundError({ method, type, instance, error });
        } catch (hookError) {
          this.#log('onBackgroundError threw: %s', describeFailure(hookError).message);
        }
      },
    );
    this.#background.add(tracked);
    void tracked.finally(() => this.#background.delete(tracked));
  }

  #apiInfo(exampleProperties: JsonValue): unknown {
    const examples: Record<(typeof METHOD_NAMES)[number], { params: unknown; result: unknown }> = {
      'Instance.Validate': {
        params: { Type: '', Properties: exampleProperties },
        result: { Type: '', OK: true },
      },
      'Instance.Provision': {
        params: {
          Type: '',
          Spec: {
            Properties: exampleProperties,
            Tags: { 'infrakit.group': 'workers', 'infrakit.config.hash': 'ijycgcaiqoryy5ohzpffxfhkkexmdsgv' },
            Init: '',
            LogicalID: null,
            Attachments: null,
          },
        },
        result: { Type: '', ID: 'vm-5577006791947779410' },
      },
      'Instance.Label': {
        params: { Type: '', Instance: 'vm-5577006791947779410', Labels: { env: 'prod' } },
        result: { Type: '', OK: true },
      },
      'Instance.Destroy': {
        params: { Type: '', Instance: 'vm-5577006791947779410', Context: { Reason: 'terminate' } },
        result: { Type: '', OK: true },
      },
      'Instance.DescribeInstances': {
        params: { Type: '', Tags: { 'infrakit.group': 'workers' }, Properties: false },
        result: {
          Type: '',
          Descriptions: [
            {
              ID: 'vm-5577006791947779410',
              LogicalID: null,
              Tags: {
                'infrakit.group': 'workers',
                'infrakit.config.hash': 'ijycgcaiqoryy5ohzpffxfhkkexmdsgv',
                'infrakit.config_sha': 'ijycgcaiqoryy5ohzpffxfhkkexmdsgv',
                guestIP: '10.0.0.12',
              },
            },
          ],
        },
      },
    };
    return {
      Vendor: this.#vendor,
      Implements: [{ ...INSTANCE_INTERFACE }],
      Interfaces: [
        {
          ...INSTANCE_INTERFACE,
          Methods: METHOD_NAMES.map((method, index) => ({
            Request: { jsonrpc: '2.0', method, params: examples[method].params, id: String(index + 1) },
            Response: { jsonrpc: '2.0', result: examples[method].result, id: String(index + 1) },
          })),
        },
      ],
    };
  }

  // --- HTTP ---

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    res.on('error', (error) => this.#log('response error: %s', error.message));
    res.on('finish', () => {
      // While closing, hand back connections as soon as they fall idle.
      if (this.#closing !== undefined) setImmediate(() => this.#http.closeIdleConnections());
    });
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/' || path === '') {
      if (req.method === 'POST') {
        this.#onRpc(req, res);
        return;
      }
      req.resume();
      res
        .writeHead(405, { Allow: 'POST', ...JSON_HEADERS })
        .end('{"error":"JSON-RPC requests are POSTed to /"}');
      return;
    }
    req.resume();
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (path === '/info/api.json') {
        this.#send(res, 200, this.#apiJson);
        return;
      }
      if (path === '/info/functions.json') {
        this.#send(res, 200, '{"base":[],"builtin":[]}');
        return;
      }
    }
    res.writeHead(404, JSON_HEADERS).end('{"error":"not found"}');
  }

  #send(res: ServerResponse, status: number, body: string): void {
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, { ...JSON_HEADERS, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  #onRpc(req: IncomingMessage, res: ServerResponse): void {
    const limit = this.#maxBodyBytes;
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    let discarded = 0;

    const rejectTooLarge = (): void => {
      tooLarge = true;
      chunks.length = 0;
      this.#log('rejected request: body larger than %d bytes', limit);
      // HTTP 200 with a JSON-RPC error: InfraKit's Go client decodes the body whatever the status and
      // shows `message`; a 413 plus a closed connection would surface as a bare write error instead.
      // The connection stays usable: the rest of the body is read and dropped (up to a hard cap).
      this.#send(
        res,
        200,
        formatError(NULL_ID, RpcErrorCode.invalidRequest, `invalid request: body larger than ${limit} bytes`),
      );
    };

    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) rejectTooLarge();

    req.on('data', (chunk: Buffer) => {
      if (tooLarge) {
        discarded += chunk.length;
        // Reading a runaway body to its end is not worth it: cut the connection.
        if (discarded > limit * 8) req.destroy();
        return;
      }
      size += chunk.length;
      if (size > limit) {
        rejectTooLarge();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', (error) => this.#log('request error: %s', error.message));
    req.on('close', () => {
      if (!req.complete) this.#log('client went away before sending its whole request (%d bytes read)', size);
    });
    req.on('end', () => {
      if (tooLarge) return;
      const body = Buffer.concat(chunks).toString('utf8');
      void this.handle(body).then((reply) => {
        if (res.destroyed) {
          this.#log('client went away before its answer');
          return;
        }
        if (reply === null) {
          if (!res.writableEnded) res.writeHead(200, { 'Content-Length': 0 }).end();
          return;
        }
        this.#send(res, 200, reply);
      });
    });
  }
}

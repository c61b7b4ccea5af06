/**
 * HTTP(S) to one vCenter: keep-alive sockets, a timeout per call, AbortSignal, and the TLS trust
 * mode from tls.ts. It knows nothing of SOAP beyond sending bytes and returning bytes.
 *
 * node:https rather than fetch: fetch cannot take a CA bundle or a thumbprint pin without the
 * separate undici package, and cannot stream an upload with a fixed Content-Length as simply.
 */
import type { Agent, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { logger } from '../log.ts';
import { Deadline } from './deadline.ts';
import { AbortError, HttpStatusError, TimeoutError, TlsError, TransportError } from './errors.ts';
import {
  fingerprintsOf,
  presentedFingerprints,
  resolveTrust,
  type TlsOptions,
  type TrustMode,
} from './tls.ts';

const log = logger('infrakit:vsphere:http');

// getBuiltinModule, not `import http from 'node:http'`: an ES import of node:http evaluates its
// lazy exports (undici's WebSocket among them), about 45 ms of a cold start (measured, P6).
const http = process.getBuiltinModule('node:http');
const https = process.getBuiltinModule('node:https');
const tls = process.getBuiltinModule('node:tls');

const EMPTY = Buffer.alloc(0);

/**
 * The longest a connection may take to be ready (TCP, and TLS where used). A connection attempt
 * belongs to the agent, not to the request that caused it: one started for a request that has since
 * given up (or for a queued one, when a socket closed) would otherwise wait on a stalled vCenter
 * for ever, outside maxSockets, and join the pool whenever that vCenter woke up.
 */
const CONNECT_LIMIT_MS = 30_000;

export interface HttpTransportOptions {
  /** Base URL of the server, e.g. `https://vc.example.com/sdk`. Credentials in it are ignored. */
  url: string | URL;
  tls?: TlsOptions;
  /**
   * Timeout in ms of each call made without one of its own (default 120 000): it bounds the whole
   * call, from the wait for a free socket to the last byte of the answer.
   */
  timeoutMs?: number;
  /** Sockets kept per vCenter (default 32). */
  maxSockets?: number;
}

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT';
  /** Path and query, e.g. `/sdk` or `/folder/x.iso?dcPath=DC0&dsName=ds`. */
  path: string;
  headers?: Record<string, string | number>;
  /** A body to send whole, or a stream to pipe (then give `content-length`). */
  body?: string | Buffer | NodeJS.ReadableStream;
  signal?: AbortSignal;
  /** Bounds this request alone (default: the transport's timeoutMs). */
  timeoutMs?: number;
  /**
   * The deadline of the call this request is one attempt of: the request gets what is left of it
   * (instead of `timeoutMs`) and times out with its error.
   */
  deadline?: Deadline;
  /** Called as the upload body is written (bytes so far). */
  onUploadProgress?: (sentBytes: number) => void;
  /**
   * Takes the body as it arrives instead of buffering it. Called once the status is known; when it
   * returns a function, that function receives every chunk (and the response's `body` is empty),
   * and an error it throws ends the request with that error.
   */
  streamBody?: (status: number) => ((chunk: Buffer) => void) | undefined;
}

export interface HttpResponse {
  status: number;
  headers: IncomingMessage['headers'];
  /** The whole body; empty when it went to {@link HttpRequest.streamBody}. */
  body: Buffer;
  /** The body went to {@link HttpRequest.streamBody}. */
  streamed?: boolean;
}

/** One keep-alive connection pool to one server. */
export class HttpTransport {
  readonly baseUrl: URL;
  // Private field: util.inspect of a client must not reach in-flight requests, whose headers
  // carry the session cookie.
  readonly #agent: Agent;
  /** Timeout in ms of a call that sets none. */
  readonly timeoutMs: number;
  private readonly trust: TrustMode;
  /** Requests sent, for round-trip accounting in benchmarks and tests. */
  requestCount = 0;

  constructor(options: HttpTransportOptions) {
    const url = new URL(options.url.toString());
    url.username = '';
    url.password = '';
    this.baseUrl = url;
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.trust = resolveTrust(options.tls);
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 32, keepAliveMsecs: 15_000 };
    if (url.protocol === 'http:') {
      this.#agent = new http.Agent(agentOptions);
    } else if (url.protocol === 'https:') {
      this.#agent = this.createHttpsAgent(agentOptions);
    } else {
      throw new TransportError(`unsupported URL scheme ${url.protocol} (expected https: or http:)`);
    }
    if (this.trust.kind !== 'pin' || url.protocol === 'http:') this.limitConnects(this.#agent);
  }

  /** A second past the default call timeout, so that a request's own deadline speaks first. */
  private get connectLimitMs(): number {
    return Math.min(this.timeoutMs + 1000, CONNECT_LIMIT_MS);
  }

  /** Destroys a connection that is not ready within {@link CONNECT_LIMIT_MS} (see there). */
  private limitConnects(agent: Agent): void {
    const create = (agent as unknown as { createConnection: (...args: unknown[]) => Duplex | undefined })
      .createConnection;
    const limit = this.connectLimitMs;
    const secure = this.baseUrl.protocol === 'https:';
    (agent as unknown as { createConnection: unknown }).createConnection = (...args: unknown[]) => {
      const socket = create.apply(agent, args) as import('node:net').Socket | undefined;
      if (!socket) return socket;
      const ready = secure ? 'secureConnect' : 'connect';
      const onReady = () => socket.setTimeout(0);
      socket.once(ready, onReady);
      socket.setTimeout(limit, () => {
        socket.off(ready, onReady);
        socket.destroy(new TransportError(`connecting to ${this.baseUrl.host} timed out after ${limit} ms`));
      });
      return socket;
    };
  }

  private createHttpsAgent(agentOptions: import('node:https').AgentOptions): import('node:https').Agent {
    const trust = this.trust;
    if (trust.kind === 'verify') return new https.Agent({ ...agentOptions, ...trust.connect });
    if (trust.kind === 'insecure') return new https.Agent({ ...agentOptions, rejectUnauthorized: false });
    const agent = new https.Agent({ ...agentOptions, rejectUnauthorized: false });
    // The pin is checked before the socket is handed to the request, so not one request byte
    // goes to a server whose certificate does not match.
    (agent as unknown as { createConnection: unknown }).createConnection = (
      options: ConnectionOptions,
      done: (error: Error | null, socket?: Duplex) => void,
    ) => {
      const socket: TLSSocket = tls.connect({ ...options, rejectUnauthorized: false });
      const onError = (error: Error) => {
        clearTimeout(limit);
        done(error);
      };
      socket.once('error', onError);
      // Not the request's timer: this connection is not the request's until `done` (see
      // CONNECT_LIMIT_MS), and the agent does not count it against maxSockets meanwhile.
      const limit = setTimeout(() => {
        socket.destroy(
          new TransportError(`connecting to ${this.baseUrl.host} timed out after ${this.connectLimitMs} ms`),
        );
      }, this.connectLimitMs);
      limit.unref();
      socket.once('secureConnect', () => {
        clearTimeout(limit);
        socket.off('error', onError);
        const prints = fingerprintsOf(socket.getPeerCertificate());
        const actual = trust.algorithm === 'sha256' ? prints.sha256 : prints.sha1;
        if (actual !== trust.fingerprint) {
          socket.destroy();
          done(
            new TlsError(
              'TLS_THUMBPRINT_MISMATCH',
              `server certificate does not match the pinned ${trust.algorithm.toUpperCase()} thumbprint (server presents SHA-256 ${prints.sha256}, SHA-1 ${prints.sha1})`,
              prints,
            ),
          );
          return;
        }
        done(null, socket);
      });
      return undefined;
    };
    return agent;
  }

  /** Sends one request and buffers the whole response. */
  request(req: HttpRequest): Promise<HttpResponse> {
    const what = `${req.method} ${req.path.split('?')[0]}`;
    const deadline = req.deadline ?? new Deadline(what, req.timeoutMs ?? this.timeoutMs);
    if (req.signal?.aborted) return Promise.reject(abortOf(req.signal, what));
    if (deadline.expired) return Promise.reject(deadline.error());
    this.requestCount += 1;
    const transport = this.baseUrl.protocol === 'https:' ? https : http;
    const started = performance.now();
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      // A refused certificate whose thumbprints are being read: what to fail with if time runs out.
      let refused: Error | undefined;
      const finish = (error: Error | undefined, response?: HttpResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(response!);
      };
      // A request that gave up must not keep its socket: a stalled server would still hold it, and
      // its late answer must not be read as the answer of the next request on that socket. One
      // still queued in the agent for a socket leaves the queue, or it would take one when freed.
      const abandon = (error: Error) => {
        finish(refused ?? error);
        outgoing.destroy();
        dequeue(this.#agent, outgoing);
      };
      const outgoing = transport.request({
        agent: this.#agent,
        protocol: this.baseUrl.protocol,
        hostname: this.baseUrl.hostname,
        port: this.baseUrl.port,
        path: req.path,
        method: req.method,
        headers: req.headers,
      });
      const timer = setTimeout(() => abandon(deadline.error()), deadline.remaining());
      const onAbort = () => abandon(abortOf(req.signal!, what));
      req.signal?.addEventListener('abort', onAbort, { once: true });
      outgoing.on('error', (error: NodeJS.ErrnoException) => {
        const classified = this.classify(error, what);
        if (!(classified instanceof TlsError) || classified.code !== 'TLS_UNTRUSTED') {
          finish(classified);
          return;
        }
        // Name the certificate that was refused, so an operator can check and pin it; within the
        // call's deadline, else the error without them.
        refused = classified;
        presentedFingerprints(
          this.baseUrl.hostname,
          Number(this.baseUrl.port || 443),
          Math.max(1, Math.min(5000, deadline.remaining())),
        ).then((prints) => finish(this.classify(error, what, prints)));
      });
      outgoing.on('response', (res) => {
        const chunks: Buffer[] = [];
        const sink = req.streamBody?.(res.statusCode ?? 0);
        let received = 0;
        if (sink) {
          res.on('data', (chunk: Buffer) => {
            if (settled) return;
            received += chunk.length;
            try {
              sink(chunk);
            } catch (error) {
              finish(error as Error);
              res.destroy();
            }
          });
        } else {
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
        }
        res.on('aborted', () => finish(new TransportError(`${what}: response truncated`)));
        res.on('error', (error: NodeJS.ErrnoException) => finish(this.classify(error, what)));
        res.on('end', () => {
          if (!res.complete) {
            finish(new TransportError(`${what}: response truncated`));
            return;
          }
          const body = sink ? EMPTY : Buffer.concat(chunks);
          log(
            '%s -> %d (%d bytes%s, %d ms)',
            what,
            res.statusCode,
            sink ? received : body.length,
            sink ? ' streamed' : '',
            Math.round(performance.now() - started),
          );
          const response: HttpResponse = { status: res.statusCode ?? 0, headers: res.headers, body };
          if (sink) response.streamed = true;
          finish(undefined, response);
        });
      });
      const body = req.body;
      if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
        outgoing.end(body);
      } else {
        let sent = 0;
        body.on('data', (chunk: Buffer) => {
          sent += chunk.length;
          req.onUploadProgress?.(sent);
        });
        body.on('error', (error: Error) => {
          finish(
            new TransportError(`${what}: reading the upload failed: ${error.message}`, { cause: error }),
          );
          outgoing.destroy();
        });
        body.pipe(outgoing);
      }
    });
  }

  private classify(
    error: NodeJS.ErrnoException,
    what: string,
    prints: { sha256?: string; sha1?: string } = {},
  ): Error {
    if (error instanceof TlsError || error instanceof TransportError) return error;
    const code = error.code ?? '';
    if (code.startsWith('ERR_TLS') || /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_SSL/.test(code)) {
      return new TlsError(
        'TLS_UNTRUSTED',
        `${what}: the server certificate is not trusted (${code})${prints.sha256 ? `, SHA-256 thumbprint ${prints.sha256}` : ''}; give tls.ca, pin tls.thumbprint, or set tls.insecure for a lab`,
        prints,
        { cause: error },
      );
    }
    return new TransportError(`${what}: ${error.message}`, { cause: error, errno: code || undefined });
  }

  /** Closes idle sockets; in-flight requests finish. */
  close(): void {
    this.#agent.destroy();
  }
}

/**
 * The error of an aborted request: the deadline's own TimeoutError when the signal is a deadline's
 * (see {@link Deadline.link}), else an AbortError with the caller's reason.
 */
function abortOf(signal: AbortSignal, what: string): Error {
  return signal.reason instanceof TimeoutError
    ? signal.reason
    : new AbortError(what, { cause: signal.reason });
}

/**
 * Takes a request that never got a socket out of the agent's queue. Node leaves a destroyed
 * request queued until a socket frees, then hands it that socket only to skip it.
 */
function dequeue(agent: Agent, request: import('node:http').ClientRequest): void {
  if (request.socket) return;
  const queues = agent.requests as Record<string, import('node:http').ClientRequest[] | undefined>;
  for (const [name, queue] of Object.entries(queues)) {
    const at = queue?.indexOf(request) ?? -1;
    if (at < 0) continue;
    queue!.splice(at, 1);
    if (queue!.length === 0) delete queues[name];
    return;
  }
}

/** Turns a non-2xx, non-SOAP response into an error with a short excerpt. */
export function statusError(response: HttpResponse, what: string): HttpStatusError {
  const excerpt = response.body.subarray(0, 200).toString('utf8').replace(/\s+/g, ' ').trim();
  return new HttpStatusError(response.status, what, excerpt);
}

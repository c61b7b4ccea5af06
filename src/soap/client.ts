/**
 * One vim25 SOAP endpoint: encodes a call, posts it with the session cookie and the server's
 * SOAPAction version, decodes the answer (faults become VimFault). Retries transport failures
 * of idempotent calls only: a call that starts a task is never sent twice by this layer.
 */
import { logger } from '../log.ts';
import { Deadline } from '../transport/deadline.ts';
import {
  AbortError,
  HttpStatusError,
  TimeoutError,
  TransportError,
  untilAborted,
} from '../transport/errors.ts';
import { type HttpRequest, type HttpResponse, type HttpTransport, statusError } from '../transport/http.ts';
import {
  decodeResponse,
  encodeRequest,
  ResponseStream,
  type ReturnItemSink,
  SCHEMA_VIM25_VERSION,
} from '../vim25/index.ts';
import { redactSoapBody } from './redact.ts';

const log = logger('infrakit:vsphere:soap');
const logBody = logger('infrakit:vsphere:soap:body');

/** vim25 methods that change nothing (or nothing twice): safe to resend after a lost answer. */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set([
  'RetrieveServiceContent',
  'RetrievePropertiesEx',
  'ContinueRetrievePropertiesEx',
  'CurrentTime',
  'FindChild',
  'FindByInventoryPath',
  'FindByUuid',
  'QueryOptions',
  'SessionIsActive',
  // Not WaitForUpdatesEx: vcsim hands each update out once, so a poll resent after a lost answer
  // never sees the updates that answer carried. The task waiter polls again itself, after reading
  // its tasks' state directly.
  'CancelWaitForUpdates',
  'DestroyView',
  'DestroyPropertyFilter',
]);

export interface SoapCallOptions {
  signal?: AbortSignal;
  /**
   * Bounds the whole call (default: the transport's timeoutMs): version negotiation, the wait for
   * a socket, every attempt and the backoff between them. A retry is only started when what is
   * left can cover it; when the time is up the call fails with a TimeoutError naming the method.
   */
  timeoutMs?: number;
  /**
   * The deadline of an enclosing call (a session call that had to log in first): this call gets
   * what is left of it, instead of `timeoutMs` of its own.
   */
  deadline?: Deadline;
  /**
   * Hands the items of one field of the result to `item` as they are decoded, while the body is
   * still arriving, and leaves them out of the returned value: a large RetrievePropertiesEx is
   * then never held whole, as bytes, text or decoded objects.
   */
  stream?: StreamedItems;
}

/** Where {@link SoapCallOptions.stream} delivers the items of one field of a result. */
export interface StreamedItems extends ReturnItemSink {
  /**
   * Called before the first item of each attempt: after a transport retry the items an earlier
   * attempt delivered are void and come again.
   */
  begin(): void;
}

export interface SoapClientOptions {
  transport: HttpTransport;
  /** vim25 version for SOAPAction; read from the server's vimServiceVersions.xml when absent. */
  apiVersion?: string;
  /** Transport retries for idempotent calls (default 3). */
  retries?: number;
  /**
   * After vimServiceVersions.xml could not be read (5xx, after the retries), how long the fallback
   * version is used before a call reads the document again (default 60 000 ms).
   */
  versionRetryMs?: number;
}

/**
 * The SOAPAction version used when the server does not say which it speaks: the version of the
 * schema the codec was generated from, a real vim25 version id (`urn:vim25/8.0` is none).
 */
export const FALLBACK_API_VERSION = SCHEMA_VIM25_VERSION;

const COOKIE_NAME = 'vmware_soap_session';

/** The least time worth starting a retry with (or a quarter of a shorter budget). */
const MIN_ATTEMPT_MS = 1000;

// Loaded with the first idempotent call, not at import: it is a few ms of a cold start (P6).
let pRetryModule: Promise<typeof import('p-retry')> | undefined;
const loadPRetry = (): Promise<typeof import('p-retry')> => {
  pRetryModule ??= import('p-retry');
  return pRetryModule;
};

export class SoapClient {
  readonly transport: HttpTransport;
  private readonly retries: number;
  private readonly versionRetryMs: number;
  /** Pinned, read from the server, or a fallback for good (the server has no document). */
  #apiVersion: string | undefined;
  /** A fallback used until `#fallbackUntil` because the document could not be read for now. */
  #fallbackUntil = 0;
  #negotiating: Promise<string> | undefined;
  // Private fields: util.inspect and JSON.stringify of the client never show the cookie.
  #cookie: string | undefined;

  constructor(options: SoapClientOptions) {
    this.transport = options.transport;
    this.#apiVersion = options.apiVersion;
    this.retries = options.retries ?? 3;
    this.versionRetryMs = options.versionRetryMs ?? 60_000;
  }

  get apiVersion(): string | undefined {
    return this.#apiVersion;
  }

  get hasCookie(): boolean {
    return this.#cookie !== undefined;
  }

  /** Forgets the session cookie (after logout, or to force a fresh login). */
  clearCookie(): void {
    this.#cookie = undefined;
  }

  /**
   * Reads the newest urn:vim25 version the server speaks (vimServiceVersions.xml). A 5xx or a
   * lost connection is retried with backoff and jitter; a 5xx that outlasts the retries (a load
   * balancer with no healthy vCenter behind it, for one) gives `FALLBACK_API_VERSION` (the schema's own version) for
   * `versionRetryMs`, after which a call reads the document again: a version guessed during an
   * outage must not outlive it. A 4xx (404 on servers older than the document) or a document
   * without a vim25 version gives the fallback for good. Transport errors that outlast the
   * retries are thrown and nothing is remembered.
   */
  async negotiateVersion(signal?: AbortSignal): Promise<string> {
    if (this.#apiVersion) return this.#apiVersion;
    if (Date.now() < this.#fallbackUntil) return FALLBACK_API_VERSION;
    // One read for every call that needs the version; each caller still stops at its own signal.
    this.#negotiating ??= this.readVersionDocument().finally(() => {
      this.#negotiating = undefined;
    });
    return untilAborted(this.#negotiating, signal, 'vim25 version negotiation');
  }

  private async readVersionDocument(): Promise<string> {
    const base = this.transport.baseUrl.pathname.replace(/\/+$/, '') || '/sdk';
    const what = `GET ${base}/vimServiceVersions.xml`;
    const { default: pRetry, AbortError: PRetryAbort } = await loadPRetry();
    let response: HttpResponse;
    try {
      // A GET: retried after a lost answer like the idempotent methods, and on any 5xx.
      response = await pRetry(
        async () => {
          let answer: HttpResponse;
          try {
            answer = await this.transport.request({ method: 'GET', path: `${base}/vimServiceVersions.xml` });
          } catch (error) {
            if (error instanceof TransportError || error instanceof TimeoutError) throw error;
            throw new PRetryAbort(error as Error);
          }
          if (answer.status >= 500) throw statusError(answer, what);
          return answer;
        },
        {
          retries: this.retries,
          minTimeout: 100,
          maxTimeout: 2000,
          randomize: true,
          onFailedAttempt: ({ error, attemptNumber }) =>
            log('%s attempt %d failed: %s', what, attemptNumber, error.message),
        },
      );
    } catch (error) {
      if (!(error instanceof HttpStatusError)) throw error;
      this.#fallbackUntil = Date.now() + this.versionRetryMs;
      log(
        'vim25 version unknown (%s); using %s for %d ms',
        error.message,
        FALLBACK_API_VERSION,
        this.versionRetryMs,
      );
      return FALLBACK_API_VERSION;
    }
    const match = /<name>urn:vim25<\/name>\s*<version>([^<]+)<\/version>/.exec(
      response.body.toString('utf8'),
    );
    const announced = response.status === 200 ? match?.[1]?.trim() : undefined;
    this.#apiVersion = announced || FALLBACK_API_VERSION;
    this.#fallbackUntil = 0;
    log(
      'vim25 version %s%s',
      this.#apiVersion,
      announced ? '' : ` (HTTP ${response.status}, none announced)`,
    );
    return this.#apiVersion;
  }

  /** Sends one call and returns its decoded `returnval`. */
  async call<T = unknown>(
    method: string,
    params: Record<string, unknown>,
    options: SoapCallOptions = {},
  ): Promise<T> {
    const deadline = options.deadline ?? new Deadline(method, options.timeoutMs ?? this.transport.timeoutMs);
    const { signal } = options;
    try {
      return await this.callWithin<T>(method, params, options, deadline);
    } catch (error) {
      // p-retry and a linked signal reject with the signal's reason: give callers a typed error.
      if (error instanceof TimeoutError || error instanceof AbortError) throw error;
      if (signal?.aborted) throw new AbortError(method, { cause: signal.reason });
      throw error;
    }
  }

  private async callWithin<T>(
    method: string,
    params: Record<string, unknown>,
    options: SoapCallOptions,
    deadline: Deadline,
  ): Promise<T> {
    if (options.signal?.aborted) throw new AbortError(method, { cause: options.signal.reason });
    let version = this.#apiVersion;
    if (version === undefined) {
      const linked = deadline.link(options.signal);
      try {
        version = await this.negotiateVersion(linked.signal);
      } finally {
        linked.dispose();
      }
    }
    const body = encodeRequest(method, params);
    if (logBody.enabled) logBody('%s request %s', method, redactSoapBody(body));
    const attempt = () => this.send<T>(method, body, version, options, deadline);
    if (!IDEMPOTENT_METHODS.has(method) || this.retries === 0) return attempt();
    const { default: pRetry, AbortError: PRetryAbort } = await loadPRetry();
    return pRetry(
      async () => {
        try {
          return await attempt();
        } catch (error) {
          if (isRetryable(error) && !deadline.expired) throw error;
          throw new PRetryAbort(error as Error);
        }
      },
      {
        retries: this.retries,
        minTimeout: 100,
        maxTimeout: 2000,
        // Jitter: clients that failed together must not all come back at the same instant.
        randomize: true,
        maxRetryTime: deadline.remaining(),
        // An attempt that cannot get a fair share of the budget after the backoff is not started:
        // it would only turn the real cause into a TimeoutError.
        shouldRetry: ({ retryDelay }) =>
          deadline.remaining() - retryDelay >= Math.min(MIN_ATTEMPT_MS, deadline.totalMs / 4),
        ...(options.signal ? { signal: options.signal } : {}),
        onFailedAttempt: ({ error, attemptNumber }) =>
          log('%s attempt %d failed: %s', method, attemptNumber, error.message),
      },
    );
  }

  private async send<T>(
    method: string,
    body: string,
    version: string,
    options: SoapCallOptions,
    deadline: Deadline,
  ): Promise<T> {
    const started = performance.now();
    const headers: Record<string, string | number> = {
      'content-type': 'text/xml; charset=utf-8',
      soapaction: `urn:vim25/${version}`,
      'content-length': Buffer.byteLength(body),
    };
    if (this.#cookie) headers.cookie = `${COOKIE_NAME}=${this.#cookie}`;
    const request: HttpRequest = {
      method: 'POST',
      path: this.transport.baseUrl.pathname || '/sdk',
      headers,
      body,
      ...(options.signal ? { signal: options.signal } : {}),
      deadline,
    };
    const items = options.stream;
    let decoder: ResponseStream | undefined;
    // Only the bodies being logged are kept whole.
    const logged: Buffer[] | undefined = logBody.enabled ? [] : undefined;
    // Faults (500) are small and decoded whole.
    if (items) {
      request.streamBody = (status) => {
        if (status !== 200) return undefined;
        items.begin();
        const streaming = new ResponseStream(method, items);
        decoder = streaming;
        return (chunk) => {
          logged?.push(chunk);
          streaming.write(chunk);
        };
      };
    }
    const response = await this.transport.request(request);
    this.captureCookie(response.headers['set-cookie']);
    if (response.streamed && decoder) {
      if (logged) logBody('%s response %s', method, redactSoapBody(Buffer.concat(logged).toString('utf8')));
      const result = decoder.end() as T;
      log('%s %d streamed %d ms', method, response.status, Math.round(performance.now() - started));
      return result;
    }
    const isSoap = response.status === 200 || (response.status === 500 && looksLikeXml(response.body));
    if (!isSoap) throw statusError(response, method);
    log(
      '%s %d %d bytes %d ms',
      method,
      response.status,
      response.body.length,
      Math.round(performance.now() - started),
    );
    if (logBody.enabled) logBody('%s response %s', method, redactSoapBody(response.body.toString('utf8')));
    const result = decodeResponse(response.body, method) as T;
    if (items) deliverItems(result, items);
    return result;
  }

  /**
   * Sends a plain HTTP request (datastore upload, download) with the session cookie, which
   * vCenter's /folder endpoint requires; the cookie never leaves this class otherwise.
   */
  async requestWithSession(req: HttpRequest): Promise<HttpResponse> {
    const headers = { ...(req.headers ?? {}) };
    if (this.#cookie) headers.cookie = `${COOKIE_NAME}=${this.#cookie}`;
    return this.transport.request({ ...req, headers });
  }

  private captureCookie(setCookie: string[] | undefined): void {
    if (!setCookie) return;
    for (const line of setCookie) {
      const [pair] = line.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (pair && eq > 0 && pair.slice(0, eq).trim() === COOKIE_NAME)
        this.#cookie = pair.slice(eq + 1).trim();
    }
  }
}

/** Gives a result decoded whole the same shape a streamed one has: its items go to the sink. */
function deliverItems(result: unknown, items: StreamedItems): void {
  items.begin();
  if (result === null || typeof result !== 'object') return;
  const record = result as Record<string, unknown>;
  const list = record[items.field];
  if (list === undefined) return;
  for (const item of Array.isArray(list) ? list : [list]) items.item(item);
  delete record[items.field];
}

function looksLikeXml(body: Buffer): boolean {
  for (const byte of body.subarray(0, 64)) {
    if (byte === 0x3c) return true; // '<'
    if (
      byte !== 0x20 &&
      byte !== 0x0a &&
      byte !== 0x0d &&
      byte !== 0x09 &&
      byte !== 0xef &&
      byte !== 0xbb &&
      byte !== 0xbf
    )
      return false;
  }
  return false;
}

function isRetryable(error: unknown): boolean {
  if (error instanceof HttpStatusError)
    return error.status === 502 || error.status === 503 || error.status === 504;
  return error instanceof TransportError || error instanceof TimeoutError;
}

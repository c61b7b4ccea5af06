/**
 * One authenticated vCenter session per client. Logs in lazily, keeps the session alive on an
 * unref'd timer, and on NotAuthenticated logs in again once (single-flight, however many calls
 * noticed) and replays the call. Everything session-scoped (views, filters, cached MoRefs) must
 * watch `generation` or `onRelogin`: none of it survives a new login.
 */

import { VSphereError } from '../errors.ts';
import { logger } from '../log.ts';
import type { SoapCallOptions, SoapClient } from '../soap/client.ts';
import { Deadline } from '../transport/deadline.ts';
import { AbortError } from '../transport/errors.ts';
import type { HttpRequest, HttpResponse } from '../transport/http.ts';
import { ManagedObjectReference, VimFault } from '../vim25/index.ts';
import type { ServiceContent, UserSession } from '../vim25/types.ts';

const log = logger('infrakit:vsphere:session');

/** Login was refused: wrong user name or password, or the account is locked. */
export class LoginError extends VSphereError {
  readonly faultType: string;
  constructor(username: string, fault: VimFault) {
    super('LOGIN_FAILED', `vCenter refused the login of user "${username}" (${fault.faultType})`, {
      cause: fault,
    });
    this.faultType = fault.faultType;
  }
}

/** The session was closed; no more calls are accepted. */
export class SessionClosedError extends VSphereError {
  constructor() {
    super('SESSION_CLOSED', 'the vCenter session was closed');
  }
}

export interface SessionOptions {
  client: SoapClient;
  username: string;
  password: string;
  /** Keep-alive interval in ms (default 5 min; 0 disables). vCenter's default idle timeout is 30 min. */
  keepAliveMs?: number;
}

/**
 * Options of {@link Session.invoke}. A NotAuthenticated hidden in a result (vcsim's
 * RetrievePropertiesEx reports it per object in missingSet) is thrown by the caller, from a
 * `stream` item, so that the session logs in again and replays the call.
 */
export type InvokeOptions = SoapCallOptions;

const SERVICE_INSTANCE = new ManagedObjectReference('ServiceInstance', 'ServiceInstance');

export class Session {
  readonly client: SoapClient;
  readonly username: string;
  #password: string;
  private readonly keepAliveMs: number;
  private content: ServiceContent | undefined;
  private loginInFlight: Promise<void> | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private closing: Promise<void> = Promise.resolve();
  private lastCallAt = 0;
  private readonly reloginListeners = new Set<(generation: number) => void>();
  /** Counts logins: anything cached per session records the generation it was made in. */
  generation = 0;
  /** @internal Logins and logouts made, for leak checks in tests: not part of the public API. */
  readonly stats = { logins: 0, logouts: 0, relogins: 0 };

  constructor(options: SessionOptions) {
    this.client = options.client;
    this.username = options.username;
    this.#password = options.password;
    this.keepAliveMs = options.keepAliveMs ?? 5 * 60_000;
  }

  /** Service content (fetched once; it does not need a session). */
  async serviceContent(signal?: AbortSignal, deadline?: Deadline): Promise<ServiceContent> {
    if (!this.content) {
      this.content = await this.client.call<ServiceContent>(
        'RetrieveServiceContent',
        { _this: SERVICE_INSTANCE },
        { ...(signal ? { signal } : {}), ...(deadline ? { deadline } : {}) },
      );
    }
    return this.content;
  }

  /** True when talking to a stand-alone ESXi host rather than vCenter. */
  async isStandaloneHost(): Promise<boolean> {
    return (await this.serviceContent()).about.apiType === 'HostAgent';
  }

  /**
   * Logs in now (otherwise the first call does). The service content and the login share one
   * deadline: `deadline` when given (the call that needed the login), else the transport's timeout.
   */
  async login(signal?: AbortSignal, deadline?: Deadline): Promise<void> {
    if (this.closed) throw new SessionClosedError();
    const bound = deadline ?? new Deadline('login', this.client.transport.timeoutMs);
    if (!this.loginInFlight) {
      this.loginInFlight = this.doLogin(signal, bound).finally(() => {
        this.loginInFlight = undefined;
      });
      return this.loginInFlight;
    }
    // A login another caller started runs on its deadline and signal; this caller waits no longer
    // than its own.
    return bound.race(this.loginInFlight, signal, () => new AbortError('login', { cause: signal?.reason }));
  }

  private async doLogin(signal: AbortSignal | undefined, deadline: Deadline): Promise<void> {
    const content = await this.serviceContent(signal, deadline);
    // Closed while the service content was read: no Login is sent, so no session can be left.
    if (this.closed) throw new SessionClosedError();
    const wasLoggedIn = this.generation > 0;
    this.client.clearCookie();
    try {
      await this.client.call<UserSession>(
        'Login',
        { _this: content.sessionManager, userName: this.username, password: this.#password },
        { ...(signal ? { signal } : {}), deadline },
      );
    } catch (error) {
      if (error instanceof VimFault && (error.is('InvalidLogin') || error.is('NoPermission'))) {
        throw new LoginError(this.username, error);
      }
      throw error;
    }
    this.stats.logins += 1;
    if (this.closed) {
      // close() came while Login was on the wire: the session exists in vCenter now, and only
      // this cookie can end it.
      await this.logout();
      throw new SessionClosedError();
    }
    this.generation += 1;
    this.lastCallAt = Date.now();
    log('logged in as %s (generation %d)', this.username, this.generation);
    this.armKeepAlive();
    if (wasLoggedIn) {
      this.stats.relogins += 1;
      for (const listener of this.reloginListeners) listener(this.generation);
    }
  }

  /** Registers a callback for every re-login; returns an unsubscribe function. */
  onRelogin(listener: (generation: number) => void): () => void {
    this.reloginListeners.add(listener);
    return () => this.reloginListeners.delete(listener);
  }

  /**
   * Calls a method with the session; on NotAuthenticated logs in again (once for all callers)
   * and replays the call once. vCenter rejects an unauthenticated call before doing anything,
   * so the replay cannot duplicate work. `timeoutMs` bounds all of it: the login the call needs,
   * the call, the login again and the replay.
   */
  async invoke<T = unknown>(
    method: string,
    params: Record<string, unknown>,
    options: InvokeOptions = {},
  ): Promise<T> {
    if (this.closed) throw new SessionClosedError();
    const deadline =
      options.deadline ?? new Deadline(method, options.timeoutMs ?? this.client.transport.timeoutMs);
    const bounded: InvokeOptions = { ...options, deadline };
    if (this.generation === 0 || !this.client.hasCookie) await this.login(options.signal, deadline);
    const generationAtCall = this.generation;
    try {
      return await this.callOnce<T>(method, params, bounded);
    } catch (error) {
      if (!(error instanceof VimFault && error.is('NotAuthenticated'))) throw error;
      log('%s: session not authenticated (generation %d); logging in again', method, generationAtCall);
      // Another caller may already have logged in again since this call was sent.
      if (this.generation === generationAtCall) await this.login(options.signal, deadline);
      return this.callOnce<T>(method, params, bounded);
    }
  }

  private async callOnce<T>(
    method: string,
    params: Record<string, unknown>,
    options: InvokeOptions,
  ): Promise<T> {
    const result = await this.client.call<T>(method, params, options);
    this.lastCallAt = Date.now();
    return result;
  }

  /**
   * A plain HTTP request with the session cookie (datastore transfers). `make` is called again
   * for the one retry after a re-login, so a streamed body can be opened afresh.
   */
  async http(make: () => HttpRequest): Promise<HttpResponse> {
    if (this.closed) throw new SessionClosedError();
    if (this.generation === 0 || !this.client.hasCookie) await this.login();
    const response = await this.client.requestWithSession(make());
    if (response.status !== 401 && response.status !== 403) {
      this.lastCallAt = Date.now();
      return response;
    }
    await this.login();
    return this.client.requestWithSession(make());
  }

  private armKeepAlive(): void {
    if (this.keepAliveMs <= 0 || this.keepAliveTimer) return;
    this.keepAliveTimer = setInterval(() => {
      if (Date.now() - this.lastCallAt < this.keepAliveMs / 2) return;
      // CurrentTime is the cheapest authenticated call and needs no privilege.
      this.invoke('CurrentTime', { _this: SERVICE_INSTANCE }).catch((error: Error) =>
        log('keep-alive failed: %s', error.message),
      );
    }, this.keepAliveMs);
    this.keepAliveTimer.unref();
  }

  /**
   * Logs out (an already expired session is fine) and releases sockets. Idempotent. A login in
   * flight is waited for, not aborted: a Login already sent may create a session in vCenter that
   * only its answer's cookie can end, so that session is logged out when it arrives (by doLogin),
   * and the sockets are released only after that.
   */
  async close(): Promise<void> {
    if (this.closed) return this.closing;
    this.closed = true;
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
    this.closing = (async () => {
      try {
        await this.loginInFlight?.catch(() => undefined);
        // Only a completed login makes the cookie a session's (vCenter may set one on any answer).
        if (this.generation > 0) await this.logout();
      } finally {
        this.client.transport.close();
      }
    })();
    return this.closing;
  }

  /** Ends the session the cookie names, if there is one; never throws. */
  private async logout(): Promise<void> {
    if (!this.client.hasCookie || !this.content) return;
    try {
      await this.client.call('Logout', { _this: this.content.sessionManager }, { timeoutMs: 10_000 });
      this.stats.logouts += 1;
    } catch (error) {
      if (error instanceof VimFault && error.is('NotAuthenticated')) this.stats.logouts += 1;
      else log('logout failed: %s', (error as Error).message);
    } finally {
      this.client.clearCookie();
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

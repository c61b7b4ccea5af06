/**
 * VSphereClient wires the layers for one vCenter: transport → SOAP client → session →
 * property collector and task waiter. Each collaborator can be passed in instead (tests,
 * embedding into another InfraKit port that already holds a session).
 */

import { ValidationError } from './errors.ts';
import { checkAll, integerOption, MAX_TIMER_MS, objectOption, stringOption } from './options.ts';
import { PropertyCollector } from './property/collector.ts';
import { type EndpointOptions, resolveEndpoint } from './session/credentials.ts';
import { Session } from './session/session.ts';
import { SoapClient } from './soap/client.ts';
import { TaskWaiter } from './tasks/waiter.ts';
import { HttpTransport } from './transport/http.ts';
import { type TlsOptions, tlsOptionIssues } from './transport/tls.ts';

export interface VSphereClientOptions extends EndpointOptions {
  /** TLS trust: system roots by default; `ca`, `thumbprint` or `insecure` to change it. */
  tls?: TlsOptions;
  /** Per-call timeout in ms (default 120 000). */
  timeoutMs?: number;
  /** Keep-alive interval in ms (default 5 min; 0 disables). */
  keepAliveMs?: number;
  /** vim25 version for SOAPAction; read from the server when absent. */
  apiVersion?: string;
  /** Sockets kept open to vCenter (default 32). */
  maxSockets?: number;
  /** Transport retries of idempotent calls (default 3). */
  retries?: number;
  /** Seconds one WaitForUpdatesEx long poll may block (default 30). */
  maxWaitSeconds?: number;
  /** Environment for the `VCURL` fallback (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Injected collaborators (each replaces what the options would build). */
  transport?: HttpTransport;
  soap?: SoapClient;
  session?: Session;
}

/** A connection to one vCenter (or ESXi host): one session, shared by everything built on it. */
export class VSphereClient {
  readonly transport: HttpTransport;
  readonly soap: SoapClient;
  readonly session: Session;
  readonly collector: PropertyCollector;
  readonly tasks: TaskWaiter;

  constructor(options: VSphereClientOptions) {
    // With a session given, only the options not about the connection still apply.
    checkAll('invalid options', options.session ? [() => maxWaitSeconds(options)] : clientChecks(options));
    if (options.session) {
      this.session = options.session;
      this.soap = options.session.client;
      this.transport = options.session.client.transport;
    } else {
      const endpoint = resolveEndpoint(options, options.env ?? process.env);
      this.transport =
        options.transport ??
        new HttpTransport({
          url: endpoint.sdkUrl,
          ...(options.tls ? { tls: options.tls } : {}),
          ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
          ...(options.maxSockets !== undefined ? { maxSockets: options.maxSockets } : {}),
        });
      this.soap =
        options.soap ??
        new SoapClient({
          transport: this.transport,
          ...(options.apiVersion ? { apiVersion: options.apiVersion } : {}),
          ...(options.retries !== undefined ? { retries: options.retries } : {}),
        });
      this.session = new Session({
        client: this.soap,
        username: endpoint.username,
        password: endpoint.password,
        ...(options.keepAliveMs !== undefined ? { keepAliveMs: options.keepAliveMs } : {}),
      });
    }
    this.collector = new PropertyCollector(this.session);
    this.tasks = new TaskWaiter(
      this.session,
      options.maxWaitSeconds !== undefined ? { maxWaitSeconds: options.maxWaitSeconds } : {},
    );
  }

  /** Logs in now; otherwise the first call does. */
  async connect(signal?: AbortSignal): Promise<this> {
    await this.session.login(signal);
    return this;
  }

  /** Stops task waits, logs out and closes sockets. */
  async close(): Promise<void> {
    this.tasks.close();
    await this.session.close();
  }
}

const maxWaitSeconds = (options: VSphereClientOptions) =>
  // The long poll's own timeout is this plus 30 s, in ms, so it has to fit a timer too.
  integerOption(options.maxWaitSeconds, 'maxWaitSeconds', { min: 1, max: 86_400, unit: 's' });

/**
 * Checks of every client option, made once before anything is built from it: a value of the wrong
 * type (a string for a number, `"false"` for `false`) is a ValidationError naming it.
 */
function clientChecks(options: VSphereClientOptions): (() => unknown)[] {
  return [
    () => stringOption(options.url, 'url', { secret: true }),
    () => stringOption(options.username, 'username'),
    () => stringOption(options.password, 'password', { secret: true }),
    () => {
      const issues = tlsOptionIssues(options.tls);
      if (issues.length > 0) throw new ValidationError(issues);
    },
    () => integerOption(options.timeoutMs, 'timeoutMs', { min: 1, max: MAX_TIMER_MS, unit: 'ms' }),
    () => integerOption(options.keepAliveMs, 'keepAliveMs', { min: 0, max: MAX_TIMER_MS, unit: 'ms' }),
    () => stringOption(options.apiVersion, 'apiVersion', { nonEmpty: true }),
    () => integerOption(options.maxSockets, 'maxSockets', { min: 1 }),
    () => integerOption(options.retries, 'retries', { min: 0, max: 20 }),
    () => objectOption(options.env, 'env'),
    () => maxWaitSeconds(options),
  ];
}

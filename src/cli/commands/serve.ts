/**
 * `serve`: runs the InfraKit instance plugin on its unix socket (and optionally loopback TCP) until
 * SIGINT/SIGTERM, with one provider per subtype.
 */
import type { AddressInfo } from 'node:net';
import { VSphereError } from '../../errors.ts';
import {
  type LoopbackHost,
  type PluginBackgroundFailure,
  PluginServer,
  type VendorInfo,
} from '../../plugin/server.ts';
import { installSignalHandlers, type RunningPluginServer, startPluginServer } from '../../plugin/socket.ts';
import type { InstancePlugin } from '../../spi/instance.ts';
import {
  booleanFlag,
  durationFlag,
  type FlagSpec,
  type ParsedArgs,
  stringFlag,
  UsageError,
} from '../args.ts';
import { type Command, positionals, setupLogging } from '../command.ts';
import { CONNECTION_FLAGS, HELP_FLAG, LOG_LEVEL_FLAG, PLACEMENT_FLAGS } from '../flags.ts';
import type { CliProvider } from '../io.ts';
import { ExitCode, errorLine } from '../output.ts';
import { makeProvider, resolveSubtypes } from '../subtypes.ts';
import { SERVE_TIMEOUT_FLAG, timeoutFlag, withinTimeout } from '../timeout.ts';

export const DEFAULT_PLUGIN_NAME = 'instance-vsphere';

const SERVE_FLAGS: readonly FlagSpec[] = [
  {
    name: 'name',
    type: 'string',
    value: 'NAME',
    default: DEFAULT_PLUGIN_NAME,
    help: 'plugin name: the socket file name InfraKit calls the plugin by',
  },
  ...CONNECTION_FLAGS,
  SERVE_TIMEOUT_FLAG,
  ...PLACEMENT_FLAGS,
  {
    name: 'listen',
    type: 'string',
    value: 'HOST:PORT',
    help: 'also serve on loopback TCP (127.0.0.1:PORT, [::1]:PORT or localhost:PORT)',
  },
  {
    name: 'shutdown-grace',
    type: 'string',
    value: 'DURATION',
    help: 'on SIGTERM/SIGINT, how long provisions and destroys in progress may take to finish before serve logs out and exits (Go duration; default 2m)',
  },
  {
    name: 'max-builds-per-host',
    type: 'string',
    value: 'N',
    help: "clones and ISO creations run at once per ESXi host; more wait in the plugin (default 8, vCenter's own limit; 0: no limit)",
  },
  {
    name: 'skip-login-check',
    type: 'boolean',
    help: 'start without logging in to vCenter first (the first call logs in)',
  },
  LOG_LEVEL_FLAG('info'),
  HELP_FLAG,
];

/** The start-up login check's bound when `--timeout` is not given. */
const LOGIN_CHECK_TIMEOUT_MS = 30_000;
/** Long enough for a clone with storage offload; an operator with slow copies raises it. */
const SHUTDOWN_GRACE_MS = 120_000;
/** Bounds a logout when serve gives up before it served (no work can be in flight then). */
const PROVIDER_CLOSE_MS = 10_000;

/** `--max-builds-per-host`: a whole number from 0 (no limit) to 1024. */
function buildsPerHostFlag(parsed: ParsedArgs): number | undefined {
  const value = stringFlag(parsed, 'max-builds-per-host');
  if (value === undefined) return undefined;
  const n = /^\d{1,4}$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= 0 && n <= 1024)) {
    throw new UsageError(
      `--max-builds-per-host ${JSON.stringify(value)}: expected a whole number from 0 (no limit) to 1024`,
      'serve',
    );
  }
  return n;
}

/** Parses `--listen`: a loopback host and a port. */
export function parseListen(value: string): { host: LoopbackHost; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!match || host === undefined || !Number.isInteger(port) || port > 65535) {
    throw new UsageError(`--listen ${value}: expected HOST:PORT, e.g. 127.0.0.1:24865`, 'serve');
  }
  if (host !== '127.0.0.1' && host !== '::1' && host !== 'localhost') {
    throw new UsageError(
      `--listen ${value}: only loopback addresses (127.0.0.1, [::1], localhost): the plugin API has no authentication`,
      'serve',
    );
  }
  return { host, port };
}

function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

const SOCKET_USAGE_CODES = new Set([
  'PLUGIN_SOCKET_PATH_TOO_LONG',
  'PLUGIN_SOCKET_PATH_TAKEN',
  'INVALID_OPTION',
]);

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the InfraKit instance plugin (the default command)',
  usage: 'serve [--name NAME] [--url URL] [--config FILE] [flags]',
  description:
    'Serves InfraKit instance plugin calls (Instance/0.6.0 and 0.6.1 handshakes) on the unix socket\n' +
    '<dir>/<name>, with the pid file <dir>/<name>.pid; <dir> is $INFRAKIT_PLUGINS_DIR, else\n' +
    '$INFRAKIT_HOME/plugins, else ~/.infrakit/plugins. Logs in to vCenter first (exit 4 if that\n' +
    'fails). Stops on SIGINT/SIGTERM: finishes requests in progress, removes socket and pid file.\n' +
    'The flags of the original Go plugin work with one dash too (-url, -ignoreOnDestroy).',
  footer:
    'Config file (--config FILE): several subtypes from one process; a group names\n' +
    'instance-vsphere/<subtype> as its plugin, and "" is the default subtype:\n' +
    '  {"subtypes": {\n' +
    '     "":    {"url": "https://vc1.example.com/sdk", "datacenter": "DC1", "datastore": "ds1"},\n' +
    '     "lab": {"url": "https://vc2.example.com/sdk", "username": "svc", "passwordFile": "lab.pw",\n' +
    '             "thumbprint": "AA:BB:...", "hostname": "esx1"}}}\n' +
    'Keys: url, username, password, passwordFile, passwordEnv, datacenter, datastore, network,\n' +
    'hostname, folder, vmPrefix, ignoreOnDestroy, configHashTag, shutdownTimeoutMs,\n' +
    'maxConcurrentBuildsPerHost, caFile, thumbprint, insecure. A key missing from an entry comes\n' +
    'from the flags, then the environment.\n' +
    'Relative file paths are relative to the config file.',
  flags: SERVE_FLAGS,
  async run(parsed, ctx) {
    const { io } = ctx;
    positionals(parsed, [], 'serve');
    const name = stringFlag(parsed, 'name') ?? DEFAULT_PLUGIN_NAME;
    const listenValue = stringFlag(parsed, 'listen');
    const listen = listenValue === undefined ? undefined : parseListen(listenValue);
    const graceMs = durationFlag(parsed, 'shutdown-grace', 'serve') ?? SHUTDOWN_GRACE_MS;
    const timeoutMs = timeoutFlag(parsed, 'serve');
    const buildsPerHost = buildsPerHostFlag(parsed);
    const subtypes = await resolveSubtypes(parsed, io, ctx.secrets, 'serve');
    setupLogging(parsed, ctx, 'info');
    const providers = new Map<string, CliProvider>();
    for (const resolved of subtypes) {
      // A server describes its groups every few seconds for as long as it lives: mirrors pay off.
      const mirrored = {
        ...resolved.options,
        describeMirror: resolved.options.describeMirror ?? serveMirrorDefault(io.env),
        ...(resolved.options.maxConcurrentBuildsPerHost === undefined && buildsPerHost !== undefined
          ? { maxConcurrentBuildsPerHost: buildsPerHost }
          : {}),
      };
      const withTimeout = {
        ...resolved,
        options: timeoutMs === undefined ? mirrored : { ...mirrored, timeoutMs },
      };
      providers.set(resolved.subtype, makeProvider(withTimeout, ctx.factory, 'serve'));
    }
    const closeProviders = () =>
      within(Promise.allSettled([...providers.values()].map((p) => p.close())), PROVIDER_CLOSE_MS);
    const typeName = (subtype: string) => (subtype === '' ? '.' : subtype);

    if (booleanFlag(parsed, 'skip-login-check') !== true) {
      // The login (version, service content, Login) is one call of --timeout; the check as a whole
      // is bounded by it too, so a stalled vCenter fails the start-up with exit 5 on time.
      const checkMs = timeoutMs ?? LOGIN_CHECK_TIMEOUT_MS;
      const results = await Promise.allSettled(
        subtypes.map(async (resolved) => {
          try {
            await withinTimeout('login check', checkMs, (bound) =>
              providers
                .get(resolved.subtype)!
                .connect(io.signal ? AbortSignal.any([io.signal, bound]) : bound),
            );
          } catch (error) {
            ctx.endpoint = resolved.endpoint;
            const where = subtypes.length > 1 ? `subtype ${typeName(resolved.subtype)}: ` : '';
            io.stderr.write(`${name}: ${where}cannot log in to ${resolved.endpoint}: ${errorLine(error)}\n`);
            throw error;
          }
        }),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) {
        await closeProviders();
        throw Object.assign(failed.reason as object, { reported: true });
      }
    }

    const vendor: VendorInfo = {
      Name: 'infrakit-instance-vsphere',
      Version: ctx.version,
      URL: 'https://www.npmjs.com/package/infrakit-instance-vsphere',
    };
    const onBackgroundError = (failure: PluginBackgroundFailure) => {
      io.stderr.write(
        `${name}: ${failure.method} of ${failure.instance} (type ${typeName(failure.type)}) failed after it was answered: ${errorLine(failure.error)}\n`,
      );
    };
    const plugins: Record<string, InstancePlugin> = Object.fromEntries(providers);

    let running: RunningPluginServer;
    try {
      running = await startPluginServer({ name, plugins, vendor, env: io.env, onBackgroundError });
    } catch (error) {
      await closeProviders();
      if (error instanceof VSphereError && SOCKET_USAGE_CODES.has(error.code)) {
        throw new UsageError(error.message, 'serve');
      }
      throw error;
    }
    let tcp: PluginServer | undefined;
    if (listen !== undefined) {
      tcp = new PluginServer({ plugins, vendor, onBackgroundError });
      try {
        await tcp.listen(listen);
      } catch (error) {
        await running.close({ graceMs: 0 });
        await closeProviders();
        throw new VSphereError('LISTEN_FAILED', `--listen ${listenValue}: ${errorLine(error)}`, {
          cause: error,
        });
      }
    }

    const types = [...providers.keys()].map(typeName).sort();
    const endpoints = [...new Set(subtypes.map((s) => s.endpoint))].join(', ');
    io.stderr.write(
      `${name}: infrakit-instance-vsphere ${ctx.version} serving on ${running.socketPath} (pid ${process.pid}; subtypes ${types.join(', ')}; vCenter ${endpoints})\n`,
    );
    if (tcp !== undefined) {
      const address = tcp.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      io.stderr.write(`${name}: also listening on http://${host}:${address.port}/\n`);
    }

    let shutdown: Promise<void> | undefined;
    let leftUnfinished: string[] = [];
    // Stop accepting, let requests and the vCenter work they started finish (the VMs being made
    // get their notes, or are removed), then log out: one grace period for all of it.
    const stop = (): Promise<void> => {
      shutdown ??= (async () => {
        const deadline = Date.now() + graceMs;
        io.stderr.write(
          `${name}: stopping; waiting up to ${Math.round(graceMs / 1000)} s for work in progress\n`,
        );
        await Promise.allSettled([running.close({ graceMs }), tcp?.close({ graceMs })]);
        const closed = await Promise.allSettled(
          [...providers.values()].map((p) => p.close({ graceMs: Math.max(0, deadline - Date.now()) })),
        );
        leftUnfinished = closed.flatMap((c) =>
          c.status === 'fulfilled' && c.value ? c.value.unfinished : [],
        );
        if (leftUnfinished.length > 0) {
          io.stderr.write(
            `${name}: the grace period ended while vCenter was still making ${leftUnfinished.join(', ')}; ` +
              'they may appear without their notes (raise --shutdown-grace)\n',
          );
        }
        io.stderr.write(`${name}: stopped; removed ${running.socketPath}\n`);
      })();
      return shutdown;
    };

    await new Promise<void>((resolve) => {
      let uninstall: (() => void) | undefined;
      const done = () => {
        uninstall?.();
        resolve();
      };
      if (io.handleSignals !== false) {
        uninstall = installSignalHandlers(
          { close: () => stop() },
          {
            exit: done,
            onError: (error) => io.stderr.write(`${name}: shutdown failed: ${errorLine(error)}\n`),
          },
        );
      }
      if (io.signal !== undefined) {
        if (io.signal.aborted) void stop().finally(done);
        else io.signal.addEventListener('abort', () => void stop().finally(done), { once: true });
      }
    });
    return leftUnfinished.length > 0 ? ExitCode.failed : ExitCode.ok;
  },
};

/** `serve` mirrors describe unless the environment turns it off (`INFRAKIT_VSPHERE_DESCRIBE_MIRROR=0`). */
function serveMirrorDefault(env: NodeJS.ProcessEnv): boolean {
  const value = env.INFRAKIT_VSPHERE_DESCRIBE_MIRROR;
  return value === undefined || value === '1' || value === 'true';
}

/**
 * InfraKit socket placement: where the plugin's unix socket and pid file go, how a stale socket
 * left by a crashed run is replaced, and how both files are removed again.
 *
 * - dir: `$INFRAKIT_PLUGINS_DIR`, else `$INFRAKIT_HOME/plugins`, else `~/.infrakit/plugins`
 *   (created with mode 0700); InfraKit discovers plugins by listing it.
 * - socket `<dir>/<name>` (mode 0600), pid file `<dir>/<name>.pid`.
 *
 * Importing this module installs nothing global; the CLI calls {@link installSignalHandlers}.
 */

import { VSphereError } from '../errors.ts';
import { PluginServer, type PluginServerOptions } from './server.ts';

// Builtins through getBuiltinModule: ES imports of them cost every user of the package start-up
// time, plugin server or not (P6 in docs/performance.md).
const { constants: fsConstants } = process.getBuiltinModule('node:fs');
const { chmod, lstat, mkdir, readFile, unlink, writeFile } = process.getBuiltinModule('node:fs/promises');
const { connect } = process.getBuiltinModule('node:net');
const { homedir } = process.getBuiltinModule('node:os');
const { join } = process.getBuiltinModule('node:path');

/** Another live process answers on the socket this plugin would use. */
export class PluginSocketInUseError extends VSphereError {
  readonly socketPath: string;
  /** Pid of the process holding it, when its pid file names a live process. */
  readonly pid: number | undefined;

  constructor(socketPath: string, pid: number | undefined) {
    super(
      'PLUGIN_SOCKET_IN_USE',
      pid === undefined
        ? `plugin socket ${socketPath} is in use by another process (no live pid in its pid file); stop it or choose another --name`
        : `plugin socket ${socketPath} is in use by pid ${pid}; stop that process or choose another --name`,
    );
    this.socketPath = socketPath;
    this.pid = pid;
  }
}

/** Options of {@link startPluginServer}: the server's options plus where to listen. */
export interface StartPluginServerOptions extends PluginServerOptions {
  /** Plugin name: the socket file's name, what InfraKit configs call the plugin (`instance-vsphere`). */
  name: string;
  /** Plugin directory; defaults to {@link resolvePluginDir} of `env`. */
  dir?: string;
  /** Environment read for the directory; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** A plugin server listening on its InfraKit socket. */
export interface RunningPluginServer {
  server: PluginServer;
  socketPath: string;
  pidPath: string;
  /** Stops listening, removes the socket and pid file, then drains (see {@link PluginServer.close}). */
  close(options?: { graceMs?: number }): Promise<void>;
}

function setting(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/**
 * The InfraKit plugin directory: `$INFRAKIT_PLUGINS_DIR`, else `$INFRAKIT_HOME/plugins`, else
 * `~/.infrakit/plugins`. Empty variables count as unset.
 */
export function resolvePluginDir(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const pluginsDir = setting(env, 'INFRAKIT_PLUGINS_DIR');
  if (pluginsDir !== undefined) return pluginsDir;
  const infrakitHome = setting(env, 'INFRAKIT_HOME');
  if (infrakitHome !== undefined) return join(infrakitHome, 'plugins');
  return join(home, '.infrakit', 'plugins');
}

/** The longest unix socket path the platform accepts (`sun_path` minus its NUL). */
const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103;

function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** `live`: something accepts connections there; `stale`: a socket file nobody listens on. */
function probeSocket(socketPath: string, timeoutMs = 1000): Promise<'live' | 'stale'> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path: socketPath });
    const finish = (outcome: 'live' | 'stale' | Error): void => {
      clearTimeout(timer);
      socket.destroy();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    // A listener too busy to accept is still a listener.
    const timer = setTimeout(() => finish('live'), timeoutMs);
    socket.once('connect', () => finish('live'));
    socket.once('error', (error) => {
      const code = errnoCode(error);
      if (code === 'ECONNREFUSED' || code === 'ENOENT') finish('stale');
      else if (code === 'EAGAIN') finish('live');
      else
        finish(
          new VSphereError(
            'PLUGIN_SOCKET_UNUSABLE',
            `cannot probe plugin socket ${socketPath}: ${error.message}`,
            {
              cause: error,
            },
          ),
        );
    });
  });
}

async function readPid(pidPath: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(pidPath, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) === 'EPERM';
  }
}

async function removeIfExists(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error;
  }
}

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.endsWith('.pid')) {
    throw new VSphereError(
      'INVALID_OPTION',
      `plugin name ${JSON.stringify(name)}: expected letters, digits, ".", "_" or "-" (a file name, not ending in .pid)`,
    );
  }
}

/** Makes the plugin directory (0700 when this creates it). */
async function ensureDir(dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by the umask; say it exactly for what this call created.
  if (created !== undefined) await chmod(dir, 0o700);
}

/**
 * Clears the way for a new socket: refuses when a live process answers on it, removes it (and
 * its pid file) when it is stale.
 */
async function claimSocketPath(socketPath: string, pidPath: string): Promise<void> {
  let stats: Awaited<ReturnType<typeof lstat>>;
  try {
    stats = await lstat(socketPath);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return;
    throw error;
  }
  if (!stats.isSocket()) {
    throw new VSphereError(
      'PLUGIN_SOCKET_PATH_TAKEN',
      `${socketPath} exists and is not a socket; remove it or choose another --name`,
    );
  }
  if ((await probeSocket(socketPath)) === 'live') {
    const pid = await readPid(pidPath);
    throw new PluginSocketInUseError(socketPath, pid !== undefined && isAlive(pid) ? pid : undefined);
  }
  await removeIfExists(socketPath);
  await removeIfExists(pidPath);
}

/**
 * Starts a {@link PluginServer} on `<dir>/<name>` with pid file `<dir>/<name>.pid`. Throws
 * {@link PluginSocketInUseError} (`PLUGIN_SOCKET_IN_USE`) when a live process answers there; a stale
 * socket is replaced.
 */
export async function startPluginServer(options: StartPluginServerOptions): Promise<RunningPluginServer> {
  const { name, dir: givenDir, env, ...serverOptions } = options;
  checkName(name);
  const dir = givenDir ?? resolvePluginDir(env ?? process.env);
  const socketPath = join(dir, name);
  const pidPath = `${socketPath}.pid`;
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    throw new VSphereError(
      'PLUGIN_SOCKET_PATH_TOO_LONG',
      `plugin socket path ${socketPath} is longer than the ${MAX_SOCKET_PATH_BYTES} bytes a unix socket allows; use a shorter INFRAKIT_PLUGINS_DIR`,
    );
  }

  const server = new PluginServer(serverOptions);
  await ensureDir(dir);
  await claimSocketPath(socketPath, pidPath);
  try {
    await server.listen({ socketPath });
  } catch (error) {
    // Another process bound it between the probe and here.
    if (errnoCode(error) === 'EADDRINUSE') {
      const pid = await readPid(pidPath);
      throw new PluginSocketInUseError(socketPath, pid !== undefined && isAlive(pid) ? pid : undefined);
    }
    throw error;
  }

  let socketIno: number | bigint | undefined;
  try {
    await chmod(socketPath, 0o600);
    socketIno = (await lstat(socketPath)).ino;
    await writeFile(pidPath, String(process.pid), {
      mode: 0o644,
      flag: fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC,
    });
  } catch (error) {
    await server.close({ graceMs: 0 });
    throw error;
  }

  let closing: Promise<void> | undefined;
  const close = (closeOptions?: { graceMs?: number }): Promise<void> => {
    if (closing !== undefined) return closing;
    // server.close stops the listener synchronously, so nothing can connect once the files go.
    const drained = server.close(closeOptions);
    closing = (async () => {
      // Remove only what is still ours: a newer run may already have replaced either file.
      try {
        const stats = await lstat(socketPath);
        if (stats.isSocket() && stats.ino === socketIno) await removeIfExists(socketPath);
      } catch (error) {
        if (errnoCode(error) !== 'ENOENT') throw error;
      }
      if ((await readPid(pidPath)) === process.pid) await removeIfExists(pidPath);
      await drained;
    })();
    return closing;
  };
  return { server, socketPath, pidPath, close };
}

/** Options of {@link installSignalHandlers}. */
export interface SignalHandlerOptions {
  /** Default `['SIGINT', 'SIGTERM']`. */
  signals?: NodeJS.Signals[];
  /** Grace for in-flight requests and background work. Default 5 s. */
  graceMs?: number;
  /**
   * Called once cleanup is done. Default: uninstall the handlers and re-raise the signal, so the
   * process ends with the signal's usual status.
   */
  exit?: (signal: NodeJS.Signals) => void;
  /** Told about cleanup failures. Default: `console.error`. */
  onError?: (error: unknown) => void;
}

/**
 * Makes SIGINT/SIGTERM remove the socket and pid file before the process ends. A second signal
 * while cleaning up ends the process at once. Returns a function that uninstalls the handlers.
 */
export function installSignalHandlers(
  target: { close(options?: { graceMs?: number }): Promise<void> },
  options: SignalHandlerOptions = {},
): () => void {
  const signals = options.signals ?? ['SIGINT', 'SIGTERM'];
  const onError = options.onError ?? ((error: unknown) => console.error('plugin shutdown failed:', error));
  let shuttingDown = false;

  const uninstall = (): void => {
    for (const signal of signals) process.off(signal, handler);
  };
  const exit =
    options.exit ??
    ((signal: NodeJS.Signals) => {
      uninstall();
      process.kill(process.pid, signal);
    });

  function handler(signal: NodeJS.Signals): void {
    if (shuttingDown) {
      uninstall();
      process.exit(1);
    }
    shuttingDown = true;
    target
      .close(options.graceMs === undefined ? undefined : { graceMs: options.graceMs })
      .catch(onError)
      .finally(() => exit(signal));
  }

  for (const signal of signals) process.on(signal, handler);
  return uninstall;
}

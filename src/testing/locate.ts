/**
 * Finding (and building) the vcsim binary the testing kit runs: an explicit path, `$VCSIM`, the
 * launcher that {@link installVcsim} builds into the cache, or a `vcsim` on `PATH`.
 */
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { LAUNCHER_SOURCE } from './launcher-source.ts';

/** No vcsim binary was found; the message says how to get one. */
export class VcsimNotFoundError extends Error {
  readonly code = 'VCSIM_NOT_FOUND';
  /** Every place that was looked at, in order. */
  readonly searched: readonly string[];
  constructor(message: string, searched: readonly string[]) {
    super(message);
    this.name = 'VcsimNotFoundError';
    this.searched = searched;
  }
}

/** Building the launcher failed (no Go, no module proxy, a compile error). */
export class VcsimInstallError extends Error {
  readonly code = 'VCSIM_INSTALL_FAILED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VcsimInstallError';
  }
}

export interface LocateVcsimOptions {
  /** Use exactly this binary. */
  binary?: string;
  /**
   * Cache root; the launcher lives in `<cacheDir>/vcsim/`. Default `$INFRAKIT_VSPHERE_CACHE`,
   * else `$XDG_CACHE_HOME/infrakit-instance-vsphere`, else `~/.cache/infrakit-instance-vsphere`.
   */
  cacheDir?: string;
  /** Environment read for `VCSIM`, `INFRAKIT_VSPHERE_CACHE`, `XDG_CACHE_HOME`, `PATH`. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** The govmomi version the embedded launcher pins (from its go.mod). */
export function pinnedGovmomiVersion(): string {
  const match = /github\.com\/vmware\/govmomi (v\d+\.\d+\.\d+)/.exec(LAUNCHER_SOURCE['go.mod']);
  if (!match?.[1]) throw new Error('the embedded launcher go.mod names no govmomi version');
  return match[1];
}

function setting(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** The cache root: see {@link LocateVcsimOptions.cacheDir}. */
export function vcsimCacheDir(options: Pick<LocateVcsimOptions, 'cacheDir' | 'env'> = {}): string {
  if (options.cacheDir !== undefined) return resolve(options.cacheDir);
  const env = options.env ?? process.env;
  const explicit = setting(env, 'INFRAKIT_VSPHERE_CACHE');
  if (explicit !== undefined) return resolve(explicit);
  const xdg = setting(env, 'XDG_CACHE_HOME');
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(homedir(), '.cache');
  return join(base, 'infrakit-instance-vsphere');
}

/** Where {@link installVcsim} puts the launcher: `<cacheDir>/vcsim/vcsim-launcher-<govmomi version>`. */
export function launcherPath(options: Pick<LocateVcsimOptions, 'cacheDir' | 'env'> = {}): string {
  return join(vcsimCacheDir(options), 'vcsim', `vcsim-launcher-${pinnedGovmomiVersion()}`);
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** How to get a vcsim, for error messages. */
export function howToGetVcsim(cacheDir: string): string {
  return (
    'vcsim (the govmomi vCenter simulator) was not found. Either build the launcher once with ' +
    '`node -e "import(\'infrakit-instance-vsphere/testing\').then((t) => t.installVcsim())"` ' +
    `(needs Go >= ${requiredGoVersion()} and the Go module proxy; it goes to ${join(cacheDir, 'vcsim')}), ` +
    'or set VCSIM=/path/to/vcsim (for example after `go install github.com/vmware/govmomi/vcsim@v0.46.3`).'
  );
}

/**
 * Returns the vcsim binary to run: `binary`, else `$VCSIM`, else the cached launcher, else `vcsim`
 * on `PATH`. Throws {@link VcsimNotFoundError} (with instructions) when there is none; never
 * returns a path that does not exist.
 */
export function locateVcsim(options: LocateVcsimOptions = {}): string {
  const env = options.env ?? process.env;
  const searched: string[] = [];
  const explicit = options.binary ?? setting(env, 'VCSIM');
  if (explicit !== undefined) {
    if (isExecutableFile(explicit)) return explicit;
    const what = options.binary !== undefined ? 'binary' : 'VCSIM';
    throw new VcsimNotFoundError(
      `${what}=${explicit} is not an executable file. ${howToGetVcsim(vcsimCacheDir({ ...options, env }))}`,
      [explicit],
    );
  }
  const cached = launcherPath({ ...options, env });
  searched.push(cached);
  if (isExecutableFile(cached)) return cached;
  searched.push('vcsim on PATH');
  const found = onPath('vcsim', env);
  if (found !== undefined) return found;
  throw new VcsimNotFoundError(howToGetVcsim(vcsimCacheDir({ ...options, env })), searched);
}

export interface InstallVcsimOptions {
  /** Cache root (see {@link LocateVcsimOptions.cacheDir}). */
  cacheDir?: string;
  env?: NodeJS.ProcessEnv;
  /** The Go command. Default `$GO`, else `go`. */
  go?: string;
  /** Build again even when the launcher is already there. */
  force?: boolean;
  /** Receives the build's progress and `go build` output. Default: standard error. */
  log?: (line: string) => void;
}

/** The Go release the launcher's go.mod asks for (`1.25.0`). */
export function requiredGoVersion(): string {
  const match = /^go (\d+\.\d+(?:\.\d+)?)$/m.exec(LAUNCHER_SOURCE['go.mod']);
  if (!match?.[1]) throw new VcsimInstallError('the launcher source has no go directive');
  return match[1];
}

function olderThan(found: string, wanted: string): boolean {
  const a = found.split('.').map(Number);
  const b = wanted.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d < 0;
  }
  return false;
}

/**
 * After a failed build: when the Go found is older than the launcher needs (and could not fetch a
 * newer toolchain itself, which Go >= 1.21 does with GOTOOLCHAIN=auto and network access), says
 * so, since Go's own message for it is easy to miss among the download errors.
 */
function goVersionHint(go: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolveHint) => {
    execFile(go, ['env', 'GOVERSION'], { env, timeout: 10_000 }, (error, stdout) => {
      const found = /^go(\d+\.\d+(?:\.\d+)?)/.exec(String(stdout).trim())?.[1];
      const wanted = requiredGoVersion();
      resolveHint(
        !error && found !== undefined && olderThan(found, wanted)
          ? `: it needs Go >= ${wanted} and found go${found}; install a newer Go, or let Go fetch one (GOTOOLCHAIN=auto, with network access)`
          : '',
      );
    });
  });
}

/**
 * Builds the vcsim launcher (govmomi's simulator at the pinned version) into the cache with
 * `go build`, and returns its path. Needs Go and the Go module proxy (or a warm module cache).
 * Already built: returns at once.
 */
export async function installVcsim(options: InstallVcsimOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const target = launcherPath({ ...options, env });
  if (!options.force && isExecutableFile(target)) return target;
  await mkdir(join(vcsimCacheDir({ ...options, env }), 'vcsim'), { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'vcsim-launcher-'));
  const partial = `${target}.partial-${process.pid}`;
  try {
    for (const [name, text] of Object.entries(LAUNCHER_SOURCE)) await writeFile(join(work, name), text);
    const go = options.go ?? setting(env, 'GO') ?? 'go';
    log(
      `vcsim: building the launcher (govmomi ${pinnedGovmomiVersion()}) into ${target}; this takes a minute`,
    );
    await new Promise<void>((resolveBuild, reject) => {
      const child = spawn(go, ['build', '-o', partial, '.'], {
        cwd: work,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      const collect = (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-8000);
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      child.once('error', (error) =>
        reject(
          new VcsimInstallError(`cannot run ${go} (is Go installed?): ${error.message}`, { cause: error }),
        ),
      );
      child.once('close', (code) => {
        if (output.trim() !== '') for (const line of output.trimEnd().split('\n')) log(`go: ${line}`);
        if (code === 0) resolveBuild();
        else
          goVersionHint(go, env).then((hint) =>
            reject(new VcsimInstallError(`${go} build of the vcsim launcher failed (exit ${code})${hint}`)),
          );
      });
    });
    await rename(partial, target);
    log(`vcsim: ready: ${target}`);
    return target;
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(partial, { force: true });
  }
}

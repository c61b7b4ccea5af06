/**
 * Where the test suite finds vcsim: `$VCSIM` (any vcsim binary), else the launcher that
 * `npm run vcsim:install` builds into the project cache.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cacheDir = process.env.INFRAKIT_VSPHERE_CACHE
  ? resolve(process.env.INFRAKIT_VSPHERE_CACHE)
  : join(repoRoot, '.cache');
export const launcherDir = join(repoRoot, 'test', 'vcsim', 'launcher');

/** The govmomi version the launcher pins (the single source of truth is its go.mod). */
export function pinnedGovmomiVersion(): string {
  const goMod = readFileSync(join(launcherDir, 'go.mod'), 'utf8');
  const match = /github\.com\/vmware\/govmomi (v\d+\.\d+\.\d+)/.exec(goMod);
  if (!match?.[1]) throw new Error(`no govmomi version in ${join(launcherDir, 'go.mod')}`);
  return match[1];
}

export function installedLauncherPath(): string {
  return join(cacheDir, 'vcsim', `vcsim-launcher-${pinnedGovmomiVersion()}`);
}

export const HOW_TO_GET_VCSIM =
  'vcsim (govmomi vCenter simulator) is not installed. Run `npm run vcsim:install` ' +
  '(needs Go; builds the launcher pinned in test/vcsim/launcher/go.mod into .cache/vcsim), ' +
  'or set VCSIM=/path/to/vcsim (e.g. after `go install github.com/vmware/govmomi/vcsim@v0.46.3`).';

/** Returns the vcsim binary to run, or throws with instructions. Never returns a missing path. */
export function locateVcsim(): string {
  const fromEnv = process.env.VCSIM;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`VCSIM=${fromEnv} does not exist. ${HOW_TO_GET_VCSIM}`);
    return fromEnv;
  }
  const launcher = installedLauncherPath();
  if (existsSync(launcher)) return launcher;
  const fallback = join(cacheDir, 'vcsim', 'vcsim');
  if (existsSync(fallback)) return fallback;
  throw new Error(HOW_TO_GET_VCSIM);
}

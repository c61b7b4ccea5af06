/**
 * Installs the vcsim the tests run, into .cache/vcsim. Tried in order:
 * 1. `go build` of test/vcsim/launcher (govmomi's simulator at the pinned version, from the Go
 *    module proxy);
 * 2. `go install github.com/vmware/govmomi/vcsim@v0.46.3`, the newest upstream vcsim that
 *    `go install` can still fetch (its simulator cannot change the session idle timeout, so the
 *    tests that need one say so and skip);
 * 3. Debian's golang-github-vmware-govmomi-dev (govmomi 0.24) built in GOPATH mode.
 * Run: `npm run vcsim:install` (or `node scripts/vcsim-install.ts`).
 */
import { type ExecFileSyncOptions, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDir, installedLauncherPath, launcherDir, locateVcsim } from '../test/vcsim/locate.ts';

const UPSTREAM_INSTALLABLE = 'v0.46.3';

function run(cmd: string, args: string[], options: ExecFileSyncOptions = {}): boolean {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...options });
    return true;
  } catch (error) {
    console.error(`vcsim-install: ${cmd} ${args.join(' ')} failed: ${(error as Error).message}`);
    return false;
  }
}

function buildLauncher(): boolean {
  const target = installedLauncherPath();
  const partial = `${target}.partial`;
  console.error(`vcsim-install: building ${launcherDir} -> ${target}`);
  if (!run('go', ['build', '-o', partial, '.'], { cwd: launcherDir })) return false;
  renameSync(partial, target);
  return true;
}

function goInstallUpstream(): boolean {
  const bin = join(cacheDir, 'vcsim');
  console.error(`vcsim-install: go install github.com/vmware/govmomi/vcsim@${UPSTREAM_INSTALLABLE}`);
  return run('go', ['install', `github.com/vmware/govmomi/vcsim@${UPSTREAM_INSTALLABLE}`], {
    env: { ...process.env, GOBIN: bin },
  });
}

function debianRoute(): boolean {
  console.error('vcsim-install: trying Debian golang-github-vmware-govmomi-dev (govmomi 0.24)');
  if (!run('apt-get', ['install', '-y', '-q', 'golang-go', 'golang-github-vmware-govmomi-dev'])) {
    if (!run('apt-get', ['update', '-q'])) return false;
    if (!run('apt-get', ['install', '-y', '-q', 'golang-go', 'golang-github-vmware-govmomi-dev']))
      return false;
  }
  const gopath = mkdtempSync(join(tmpdir(), 'vcsim-gopath-'));
  const src = join(gopath, 'src', 'vcsimlauncher');
  mkdirSync(src, { recursive: true });
  copyFileSync(join(launcherDir, 'main.go'), join(src, 'main.go'));
  const goBinary = existsSync('/usr/lib/go/bin/go') ? '/usr/lib/go/bin/go' : 'go';
  const ok = run(goBinary, ['build', '-o', join(cacheDir, 'vcsim', 'vcsim'), '.'], {
    cwd: src,
    env: { ...process.env, GO111MODULE: 'off', GOPATH: `${gopath}:/usr/share/gocode` },
  });
  rmSync(gopath, { recursive: true, force: true });
  return ok;
}

function main(): void {
  try {
    const found = locateVcsim();
    console.error(`vcsim-install: already installed: ${found}`);
    return;
  } catch {
    // not installed yet
  }
  mkdirSync(join(cacheDir, 'vcsim'), { recursive: true });
  if (buildLauncher() || goInstallUpstream() || debianRoute()) {
    console.error(`vcsim-install: ready: ${locateVcsim()}`);
    return;
  }
  console.error('vcsim-install: every route failed (Go module proxy, go install, Debian package)');
  process.exit(1);
}

main();

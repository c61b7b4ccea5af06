/**
 * Builds dist/ (`npm run build`) when it is missing or older than src/: what runs the package
 * as users import it (the demo, the benchmarks) calls it first.
 *
 *   node scripts/ensure-built.ts
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The built files of the package's entry points (package.json "exports"). */
const ENTRY_FILES = ['index.js', 'vsphere.js', 'testing.js'];

/** The newest modification time of any file under `dir`. */
export function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** How old dist/ is: `missing`, `stale` (older than src/) or `current`. */
export function distState(root = repoRoot): 'missing' | 'stale' | 'current' {
  let oldest = Number.POSITIVE_INFINITY;
  for (const file of ENTRY_FILES) {
    try {
      oldest = Math.min(oldest, statSync(join(root, 'dist', file)).mtimeMs);
    } catch {
      return 'missing';
    }
  }
  return oldest >= newestMtime(join(root, 'src')) ? 'current' : 'stale';
}

/** Runs `npm run build`; throws with the end of its output when it fails. */
export function buildDist(root = repoRoot): void {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const built = spawnSync(npm, ['run', '--silent', 'build'], { cwd: root, encoding: 'utf8' });
  if (built.status !== 0) {
    throw new Error(
      `npm run build failed: ${(built.stderr || built.stdout || String(built.error)).slice(-800)}`,
    );
  }
}

/** Builds dist/ unless it is current; answers whether it built. */
export function ensureBuilt(root = repoRoot): boolean {
  if (distState(root) === 'current') return false;
  buildDist(root);
  return true;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const state = distState();
  if (state !== 'current') {
    process.stdout.write(`dist/ is ${state === 'missing' ? 'missing' : 'older than src/'}: npm run build\n`);
    try {
      buildDist();
    } catch (error) {
      process.stderr.write(`${(error as Error).message}\n`);
      process.exitCode = 1;
    }
  }
}

/** The built package (dist/), which P5 and P6 measure: what users import. */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type BenchContext, repoRoot } from './context.ts';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

let done: string | undefined;

/**
 * Runs `npm run build` when dist/index.js is missing or older than anything in src/ (once per
 * run); returns what it did, for the report.
 */
export function ensureBuilt(ctx: BenchContext): string {
  if (done) return done;
  const dist = join(repoRoot, 'dist', 'index.js');
  let distMtime = 0;
  try {
    distMtime = statSync(dist).mtimeMs;
  } catch {
    // not built yet
  }
  if (distMtime >= newestMtime(join(repoRoot, 'src'))) {
    done = 'dist/ was up to date with src/';
  } else if (ctx.config.noBuild && distMtime > 0) {
    done = 'dist/ is older than src/ (--no-build: measured as it is)';
  } else {
    ctx.log('dist/ is missing or older than src/: npm run build');
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const built = spawnSync(npm, ['run', 'build'], { cwd: repoRoot, encoding: 'utf8' });
    if (built.status !== 0)
      throw new Error(`npm run build failed: ${(built.stderr || built.stdout).slice(-800)}`);
    done = 'dist/ built with npm run build for this run';
  }
  return done;
}

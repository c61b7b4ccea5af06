/** The built package (dist/), which P5 and P6 measure: what users import. */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { buildDist, newestMtime } from '../../../scripts/ensure-built.ts';
import { type BenchContext, repoRoot } from './context.ts';

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
    buildDist(repoRoot);
    done = 'dist/ built with npm run build for this run';
  }
  return done;
}

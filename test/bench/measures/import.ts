/**
 * P6: cold ESM import of the package. Each sample is a fresh `node` process, timed in this process
 * from spawn() to its exit: `children/package.mjs` imports the package by its own name (so
 * package.json "exports" resolves it to dist/index.js, as it would for a user), and the baseline
 * `children/empty.mjs` imports nothing. Import cost = median(package) − median(empty); the two kinds
 * alternate so load on the shared machine hits both alike. No V8 compile cache
 * (NODE_COMPILE_CACHE is removed from the child's environment); the OS file cache is warm, as it
 * is for any process started more than once. `children/timed.mjs` adds the in-process view: the
 * time of `await import()` alone.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ensureBuilt } from '../lib/build.ts';
import { type BenchContext, benchDir, repoRoot } from '../lib/context.ts';
import { addSeries, addTarget, type MeasureResult, newResult } from '../lib/report.ts';
import { fmt, median } from '../lib/stats.ts';

function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_COMPILE_CACHE;
  delete env.NODE_OPTIONS;
  return env;
}

/** Wall time of one `node <script>` from spawn() to exit, and its stdout. */
function runOnce(script: string): Promise<{ ms: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [script], {
      cwd: repoRoot,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = performance.now() - started;
      if (code !== 0) reject(new Error(`${script} exited ${code}: ${stderr.slice(-600)}`));
      else resolve({ ms, stdout });
    });
  });
}

export async function p6(ctx: BenchContext): Promise<MeasureResult> {
  const result = newResult('P6', 'cold ESM import of the package (fresh node process)');
  const started = performance.now();
  try {
    result.notes.push(ensureBuilt(ctx));
    const empty = join(benchDir, 'children', 'empty.mjs');
    const pkg = join(benchDir, 'children', 'package.mjs');
    const timed = join(benchDir, 'children', 'timed.mjs');
    // One unmeasured pair: the first process after a build reads files the OS has not cached yet.
    await runOnce(empty);
    await runOnce(pkg);
    const emptyMs: number[] = [];
    const pkgMs: number[] = [];
    const inProcess: number[] = [];
    for (let i = 0; i < ctx.config.p6Reps; i++) {
      const order = i % 2 === 0 ? [empty, pkg] : [pkg, empty];
      for (const script of order) {
        const { ms } = await runOnce(script);
        (script === empty ? emptyMs : pkgMs).push(ms);
      }
      const { stdout } = await runOnce(timed);
      inProcess.push((JSON.parse(stdout) as { importMs: number }).importMs);
    }
    addSeries(result, 'node children/package.mjs, spawn to exit', 'ms', pkgMs);
    addSeries(result, 'node children/empty.mjs (baseline)', 'ms', emptyMs);
    addSeries(result, 'await import() inside the process', 'ms', inProcess);
    const cost = median(pkgMs) - median(emptyMs);
    addTarget(result, '< 40 ms', cost < 40, `${fmt(cost)} ms = median(package) − median(empty)`);
    result.notes.push(
      'cold = a new process each time, no V8 compile cache; the OS file cache is warm (one unmeasured pair first).',
    );
  } catch (error) {
    result.error = (error as Error).message.split('\n').slice(0, 6).join(' | ');
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

/**
 * The benchmark suite (issue 5): `node test/bench/run.ts [--quick] [--json] [--only P1,P3] [--no-build]`.
 *
 * It starts its own vcsims, builds the govmomi peer (test/bench/peer) once, and drives two child
 * processes through the same work: the library (test/bench/worker.ts) and the peer. Every measure
 * is repeated (5 times or more; --quick: 2) and printed as median and min–max, with every ratio
 * taken from the same run. Targets are printed, never enforced: the exit code is 0 when every
 * measure ran, whatever the targets say, and 1 only when a measure could not run at all.
 * docs/performance.md describes the method and the results.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pinnedGovmomiVersion } from '../vcsim/locate.ts';
import { type BenchContext, benchDir, cacheDir, makeConfig } from './lib/context.ts';
import { describeMachine, renderMachine } from './lib/machine.ts';
import { type MeasureResult, newResult, renderMeasure, renderTargets } from './lib/report.ts';
import { p6 } from './measures/import.ts';
import { runReadMeasures } from './measures/reads.ts';
import { runWriteMeasures } from './measures/writes.ts';

const ALL = ['P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'P7', 'P8'];
const TITLES: Record<string, string> = {
  P1: 'SOAP round trips per describe',
  P2: 'describe wall time vs peer and wire floor',
  P3: 'provision and destroy vs peer',
  P4: 'decode CPU of a captured response',
  P5: 'peak RSS of a describing process',
  P6: 'cold ESM import',
  P7: 'SOAP calls per provision and destroy',
  P8: 'describe from the inventory mirror vs a full read',
};

const { values: flags } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (flags.help) {
  process.stdout.write(
    'usage: node test/bench/run.ts [--quick] [--json] [--only P1,P2,...] [--no-build]\n' +
      '  --quick     small sizes, 2 repetitions (CI smoke run, about 2 minutes)\n' +
      '  --json      print the results as JSON on stdout (progress goes to stderr)\n' +
      '  --only      run only these measures (P1..P8)\n' +
      '  --no-build  P6: do not run npm run build even if dist/ is older than src/\n',
  );
  process.exit(0);
}

const only = new Set(
  (flags.only ?? ALL.join(','))
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean),
);
for (const id of only) {
  if (!ALL.includes(id)) {
    process.stderr.write(`unknown measure ${id} (expected ${ALL.join(', ')})\n`);
    process.exit(2);
  }
}

const config = makeConfig(flags.quick, flags['no-build']);
const runStarted = performance.now();
const log = (message: string) =>
  process.stderr.write(
    `[bench ${((performance.now() - runStarted) / 1000).toFixed(0).padStart(4)} s] ${message}\n`,
  );

const cleanups = new Set<() => Promise<void>>();
const ctx: BenchContext = {
  config,
  peerBinary: join(cacheDir, 'peer'),
  log,
  track: (stop) => {
    cleanups.add(stop);
    return () => cleanups.delete(stop);
  },
  machineNotes: {},
};

async function cleanup(): Promise<void> {
  const stops = [...cleanups].reverse();
  cleanups.clear();
  for (const stop of stops) await stop().catch(() => undefined);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping vcsims and children`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** Builds the peer once per run (go's build cache makes a rebuild cheap). */
function buildPeer(): string | undefined {
  mkdirSync(cacheDir, { recursive: true });
  try {
    execFileSync('go', ['build', '-o', ctx.peerBinary, '.'], {
      cwd: join(benchDir, 'peer'),
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, GOFLAGS: `${process.env.GOFLAGS ?? ''} -mod=readonly`.trim() },
    });
    return undefined;
  } catch (error) {
    const e = error as { stderr?: Buffer; message: string };
    return `go build of test/bench/peer failed: ${e.stderr?.toString().slice(-800) ?? e.message}`;
  }
}

function failed(ids: string[], error: unknown): MeasureResult[] {
  return ids.map((id) => {
    const r = newResult(id, TITLES[id] ?? id);
    r.error = (error as Error).message.split('\n').slice(0, 6).join(' | ');
    return r;
  });
}

const machine = describeMachine();
machine.vcsim = `govmomi simulator ${pinnedGovmomiVersion()} (test/vcsim/launcher)`;
log(`${flags.quick ? 'quick' : 'full'} run of ${[...only].join(', ')}`);

const results: MeasureResult[] = [];
const needsPeer = only.has('P2') || only.has('P3') || only.has('P7') || only.has('P8');
const peerError = needsPeer ? buildPeer() : undefined;
if (peerError) log(peerError);

try {
  const reads = ['P1', 'P2', 'P4', 'P5', 'P8'].filter((id) => only.has(id));
  if (reads.length > 0) {
    const readOnly = new Set(reads.filter((id) => !(peerError && (id === 'P2' || id === 'P8'))));
    for (const id of ['P2', 'P8']) {
      if (peerError && only.has(id)) results.push(...failed([id], new Error(peerError)));
    }
    try {
      results.push(...(await runReadMeasures(ctx, readOnly)));
    } catch (error) {
      results.push(...failed([...readOnly], error));
    }
  }
  const writes = ['P3', 'P7'].filter((id) => only.has(id));
  if (writes.length > 0) {
    if (peerError) results.push(...failed(writes, new Error(peerError)));
    else {
      try {
        results.push(...(await runWriteMeasures(ctx, new Set(writes))));
      } catch (error) {
        results.push(...failed(writes, error));
      }
    }
  }
  // Last, with no vcsim running: process start-up times are the most sensitive to load.
  if (only.has('P6')) results.push(await p6(ctx));
} finally {
  await cleanup();
}

results.sort((a, b) => a.id.localeCompare(b.id));
machine.govmomi = ctx.machineNotes.govmomi ?? pinnedGovmomiVersion();
machine.loadAverageAtEnd = (await import('node:os')).loadavg().map((x) => Math.round(x * 100) / 100);
const totalSeconds = (performance.now() - runStarted) / 1000;

if (flags.json) {
  process.stdout.write(
    `${JSON.stringify({ mode: flags.quick ? 'quick' : 'full', machine, config, totalSeconds, results }, null, 2)}\n`,
  );
} else {
  const out = [
    `infrakit-instance-vsphere benchmark (${flags.quick ? 'quick' : 'full'} run, ${totalSeconds.toFixed(0)} s)`,
    renderMachine(machine),
    '',
    ...results.map(renderMeasure).flatMap((text) => [text, '']),
    renderTargets(results),
    '',
  ];
  process.stdout.write(out.join('\n'));
}
process.exitCode = results.some((r) => r.error) ? 1 : 0;

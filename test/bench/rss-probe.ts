/**
 * Where a mirrored worker's memory goes, phase by phase (not a measure of the report: a tool for
 * investigating P8's "library RSS"): `node test/bench/rss-probe.ts <N> [mirror|full] [snapshotDir]`.
 * Starts a vcsim, fills a group of N VMs, starts the library worker as P8 does (`--expose-gc`,
 * the mirror on unless `full`) and prints `process.memoryUsage()` and the peak RSS after each
 * phase: before any describe, after the cold describe, after the mirror's build, after rounds of
 * describes with one VM re-labelled by another process. With a snapshot directory, writes a heap
 * snapshot of the worker at the end.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Vcsim } from '../vcsim/vcsim.ts';
import { groupName } from './lib/context.ts';
import { prepareGroup } from './lib/groups.ts';
import { type Answer, LineProcess } from './lib/line-process.ts';
import { RawSoap } from './lib/raw-soap.ts';

const n = Number(process.argv[2] ?? 10_000);
const mirror = process.argv[3] !== 'full';
const snapshotDir = process.argv[4];
const rounds = Number(process.env.PROBE_ROUNDS ?? 3);
const group = groupName(n);
const worker = new URL('./worker.ts', import.meta.url).pathname;

const mb = (x: unknown) => `${(Number(x) / 1024 / 1024).toFixed(1)}`;
function show(phase: string, a: Answer): void {
  process.stdout.write(
    `${phase.padEnd(28)} rss ${mb(a.rss).padStart(6)}  peak ${mb(Number(a.maxRssKB) * 1024).padStart(6)}  ` +
      `heap used ${mb(a.heapUsed).padStart(6)} / total ${mb(a.heapTotal).padStart(6)}  ` +
      `(new space ${mb(a.newSpace).padStart(5)})  external ${mb(a.external).padStart(6)} (array buffers ${mb(a.arrayBuffers)})\n`,
  );
}

/**
 * The worker's resident memory by kind of mapping (Linux): the brk heap and the large anonymous
 * regions are malloc's (glibc arenas), the small anonymous ones mostly V8's pages, files are code.
 */
function mappings(pid: number): string {
  const sums = new Map<string, number>();
  let kind = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const size = (Number.parseInt(head[2]!, 16) - Number.parseInt(head[1]!, 16)) / 1024 / 1024;
      const path = head[3] ?? '';
      kind = path.startsWith('/')
        ? `file ${path.split('/').pop()}`
        : path || (size >= 32 ? 'anon >= 32 MB (malloc arenas, reservations)' : 'anon < 32 MB');
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) sums.set(kind, (sums.get(kind) ?? 0) + Number(rss[1]) / 1024);
  }
  return [...sums]
    .filter(([, mb]) => mb >= 1)
    .sort((a, b) => b[1] - a[1])
    .map(([k, mb]) => `  ${mb.toFixed(1).padStart(7)} MB  ${k}`)
    .join('\n');
}

const sim = await Vcsim.start({});
const procs: LineProcess[] = [];
try {
  const soap = new RawSoap(sim.sdkUrl);
  await soap.login();
  const made = await prepareGroup(soap, { group, count: n, concurrency: 16 });
  process.stdout.write(`group ${group}: ${n} VMs in ${(made.ms / 1000).toFixed(1)} s\n`);
  await soap.logout();
  soap.close();
  const start = async (name: string, env: NodeJS.ProcessEnv) => {
    const { proc } = await LineProcess.start(
      name,
      process.execPath,
      ['--expose-gc', worker, sim.sdkUrl, sim.certificate!.sha256],
      env,
    );
    procs.push(proc);
    return proc;
  };
  const measured = await start('measured', {
    ...process.env,
    INFRAKIT_VSPHERE_DESCRIBE_MIRROR: mirror ? '1' : '0',
  });
  // The other client that re-labels a VM (its own process, as another InfraKit would be).
  const other = await start('other', { ...process.env, INFRAKIT_VSPHERE_DESCRIBE_MIRROR: '0' });
  const ask = async (req: Record<string, unknown>) => {
    const a = await measured.ask(req, 1_800_000);
    if (!a.ok) throw new Error(a.error);
    return a;
  };
  show('before any describe (gc)', await ask({ op: 'heap' }));
  const cold = await ask({ op: 'describe', group });
  show(`cold describe ${Math.round(Number(cold.ms))} ms`, await ask({ op: 'rusage' }));
  if (mirror) {
    const built = await ask({ op: 'mirrorReady' });
    show(`mirror built +${Math.round(Number(built.ms))} ms`, await ask({ op: 'rusage' }));
  }
  show('  after a collection', await ask({ op: 'heap' }));
  const touched = await other.ask({ op: 'describe', group }, 1_800_000);
  if (!touched.ok) throw new Error(touched.error);
  for (let i = 0; i < rounds; i++) {
    const idle = await ask({ op: 'describe', group });
    const t = await other.ask({ op: 'touch', group }, 1_800_000);
    if (!t.ok) throw new Error(t.error);
    const changed = await ask({ op: 'describe', group });
    show(
      `round ${i + 1}: ${Math.round(Number(idle.ms))} / ${Math.round(Number(changed.ms))} ms`,
      await ask({ op: 'rusage' }),
    );
  }
  show('after the rounds (gc)', await ask({ op: 'heap' }));
  if (measured.pid) process.stdout.write(`${mappings(measured.pid)}\n`);
  if (snapshotDir) {
    const snap = await ask({
      op: 'snapshot',
      file: join(snapshotDir, `worker-${n}-${mirror ? 'mirror' : 'full'}.heapsnapshot`),
    });
    process.stdout.write(`snapshot ${String(snap.file)}\n`);
  }
} finally {
  for (const proc of procs) await proc.stop();
  await sim.stop();
}

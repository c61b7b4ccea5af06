/**
 * Measures that change the inventory, on their own small vcsim (default inventory): P7 SOAP
 * calls per provision and destroy with warm caches, then P3 provisioning N clones at a fixed
 * concurrency and destroying them, side by side with the govmomi peer.
 */
import { Vcsim } from '../../vcsim/vcsim.ts';
import {
  type Answer,
  type BenchContext,
  DATASTORE,
  DC,
  HOST,
  num,
  startOurs,
  startPeer,
  TEMPLATE,
} from '../lib/context.ts';
import type { LineProcess } from '../lib/line-process.ts';
import { addRatio, addSeries, addTarget, type MeasureResult, newResult } from '../lib/report.ts';
import { fmt, median } from '../lib/stats.ts';

function peerProvision(group: string, count: number, concurrency: number): Record<string, unknown> {
  return {
    op: 'provision',
    group,
    count,
    concurrency,
    datacenter: DC,
    datastore: DATASTORE,
    host: HOST,
    template: TEMPLATE,
    configHash: 'bench-hash',
  };
}

function checkAll(answer: Answer, expected: number, what: string): void {
  const failures = (answer.failures as string[] | undefined) ?? [];
  if (num(answer, 'count') !== expected || failures.length > 0) {
    throw new Error(
      `${what}: ${String(answer.count)} of ${expected} done; ${failures.length} failed: ${failures.slice(0, 3).join(' | ')}`,
    );
  }
}

/**
 * For the timed P3 phases: a few failed VMs are recorded (and reported) rather than voiding the
 * run; more than 5% (at least one) failing is an error.
 */
function tolerate(answer: Answer, expected: number, what: string, failures: string[]): void {
  const failed = (answer.failures as string[] | undefined) ?? [];
  for (const f of failed) failures.push(`${what}: ${f}`);
  if (num(answer, 'count') < expected - Math.max(1, Math.floor(expected * 0.05)))
    checkAll(answer, expected, what);
}

type Latency = Record<string, { calls: number; totalMs: number; maxMs: number }>;

/** Adds an answer's per-method wait times into `into`. */
function addLatency(into: Latency, answer: Answer): void {
  for (const [method, l] of Object.entries((answer.latency as Latency | undefined) ?? {})) {
    const sum = into[method] ?? { calls: 0, totalMs: 0, maxMs: 0 };
    into[method] = {
      calls: sum.calls + l.calls,
      totalMs: sum.totalMs + l.totalMs,
      maxMs: Math.max(sum.maxMs, l.maxMs),
    };
  }
}

/** The methods that waited longest, as `Method: n calls, mean x ms, worst y ms`. */
function latencyList(latency: Latency, rounds: number, top = 5): string {
  return Object.entries(latency)
    .sort((a, b) => b[1].totalMs - a[1].totalMs)
    .slice(0, top)
    .map(
      ([m, l]) =>
        `${m} ${Math.round(l.calls / rounds)}/round, mean ${fmt(l.totalMs / l.calls)} ms, worst ${fmt(l.maxMs)} ms`,
    )
    .join('; ');
}

function methodList(answer: Answer): string {
  return Object.entries((answer.methods as Record<string, number> | undefined) ?? {})
    .map(([m, c]) => (c === 1 ? m : `${m}×${c}`))
    .join(', ');
}

export async function runWriteMeasures(ctx: BenchContext, only: Set<string>): Promise<MeasureResult[]> {
  if (!only.has('P3') && !only.has('P7')) return [];
  ctx.log('writes: starting vcsim (default inventory)');
  const sim = await Vcsim.start({});
  const untrack = ctx.track(() => sim.stop());
  const results: MeasureResult[] = [];
  let ours: LineProcess | undefined;
  let peer: LineProcess | undefined;
  try {
    ours = await startOurs(ctx, sim);
    peer = await startPeer(ctx, sim);
    if (only.has('P7')) results.push(await p7(ctx, ours, peer));
    if (only.has('P3')) results.push(await p3(ctx, ours, peer));
  } finally {
    await ours?.stop();
    await peer?.stop();
    await sim.stop();
    untrack();
  }
  return results;
}

/** P7: SOAP calls of one provision (clone, ISO) and one destroy, inventory caches warm. */
async function p7(ctx: BenchContext, ours: LineProcess, peer: LineProcess): Promise<MeasureResult> {
  const result = newResult('P7', 'SOAP calls per provision (clone, ISO) and per destroy, caches warm');
  const started = performance.now();
  try {
    const group = 'bench-p7';
    // Warm-up: the group folder, datacenter, datastore, host, pool and template are looked up once.
    for (const kind of ['clone', 'iso', 'shaped']) {
      checkAll(await ours.ask({ op: 'provision', group, kind, count: 1 }), 1, `warm-up ${kind}`);
      checkAll(await ours.ask({ op: 'teardown', group }), 1, `warm-up destroy (${kind})`);
    }
    const clone: number[] = [];
    const iso: number[] = [];
    const shaped: number[] = [];
    const destroy: number[] = [];
    let shapedMethods = '';
    let cloneMethods = '';
    let isoMethods = '';
    let destroyMethods = '';
    for (let i = 0; i < ctx.config.reps; i++) {
      const c = await ours.ask({ op: 'provision', group, kind: 'clone', count: 1 });
      checkAll(c, 1, 'clone');
      clone.push(num(c, 'calls'));
      cloneMethods = methodList(c);
      const d = await ours.ask({ op: 'teardown', group });
      checkAll(d, 1, 'destroy');
      destroy.push(num(d, 'calls'));
      destroyMethods = methodList(d);
      const o = await ours.ask({ op: 'provision', group, kind: 'iso', count: 1 });
      checkAll(o, 1, 'ISO VM');
      iso.push(num(o, 'calls'));
      isoMethods = methodList(o);
      const d2 = await ours.ask({ op: 'teardown', group });
      checkAll(d2, 1, 'destroy');
      destroy.push(num(d2, 'calls'));
      const s = await ours.ask({ op: 'provision', group, kind: 'shaped', count: 1 });
      checkAll(s, 1, 'shaped clone');
      shaped.push(num(s, 'calls'));
      shapedMethods = methodList(s);
      checkAll(await ours.ask({ op: 'teardown', group }), 1, 'destroy');
    }
    // The peer, for comparison: one clone (+ annotation repair) and one PowerOff + Destroy.
    const peerClone: number[] = [];
    const peerDestroy: number[] = [];
    checkAll(await peer.ask(peerProvision('bench-p7-peer', 1, 1)), 1, 'peer warm-up');
    checkAll(await peer.ask({ op: 'teardown', group: 'bench-p7-peer', concurrency: 1 }), 1, 'peer warm-up');
    for (let i = 0; i < ctx.config.reps; i++) {
      const c = await peer.ask(peerProvision('bench-p7-peer', 1, 1));
      checkAll(c, 1, 'peer clone');
      peerClone.push(num(c, 'calls'));
      const d = await peer.ask({ op: 'teardown', group: 'bench-p7-peer', concurrency: 1 });
      checkAll(d, 1, 'peer destroy');
      peerDestroy.push(num(d, 'calls'));
    }
    addSeries(result, 'ours: provision by clone', 'calls', clone);
    addSeries(result, 'ours: provision from ISO', 'calls', iso);
    addSeries(
      result,
      'ours: clone with two static NICs, cloud-init metadata, an extra disk',
      'calls',
      shaped,
    );
    addSeries(result, 'ours: destroy', 'calls', destroy);
    addSeries(result, 'peer: clone + annotation repair', 'calls', peerClone);
    addSeries(result, 'peer: PowerOff + Destroy', 'calls', peerDestroy);
    addRatio(result, 'ours / peer, clone', clone, peerClone);
    addRatio(
      result,
      'ours / peer, destroy',
      destroy.filter((_, i) => i % 2 === 0),
      peerDestroy,
    );
    for (const [label, values] of [
      ['clone', clone],
      ['ISO', iso],
      ['destroy', destroy],
    ] as const) {
      addTarget(
        result,
        `≤ 10 calls per ${label}`,
        Math.max(...values) <= 10,
        `${fmt(median(values))} calls (max ${Math.max(...values)})`,
      );
    }
    addTarget(
      result,
      '≤ 12 calls per clone with two static NICs, cloud-init metadata and an extra disk',
      Math.max(...shaped) <= 12,
      `${fmt(median(shaped))} calls (max ${Math.max(...shaped)})`,
    );
    result.notes.push(`clone: ${cloneMethods}`);
    result.notes.push(`shaped clone: ${shapedMethods}`);
    result.notes.push(`ISO: ${isoMethods}`);
    result.notes.push(`destroy: ${destroyMethods}`);
    result.notes.push(
      'the original Go plugin made 41 calls per clone, 58 per ISO VM, 3 per destroyed VM plus 6 per describe; the peer waits with govmomi Task.WaitForResult (a PropertyCollector per wait).',
    );
  } catch (error) {
    result.error = (error as Error).message.split('\n').slice(0, 6).join(' | ');
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

/** P3: N clones at concurrency C, then destroy them; library vs peer, rounds alternating who goes first. */
async function p3(ctx: BenchContext, ours: LineProcess, peer: LineProcess): Promise<MeasureResult> {
  const { p3Clones: n, p3Concurrency: c } = ctx.config;
  const limit = process.env.BENCH_BUILDS_PER_HOST ?? '8';
  const result = newResult(
    'P3',
    `provision ${n} clones at concurrency ${c} (ours: at most ${limit === '0' ? 'unlimited' : limit} per host), then destroy them`,
  );
  const started = performance.now();
  try {
    const oursGroup = 'bench-p3-ours';
    const peerGroup = 'bench-p3-peer';
    // Warm-up round (not timed): folders exist, inventory caches and sockets are warm on both sides.
    const failures: string[] = [];
    const warm = await ours.ask({ op: 'provision', group: oursGroup, count: c, concurrency: c });
    tolerate(warm, c, 'ours warm-up', failures);
    tolerate(
      await ours.ask({ op: 'teardown', group: oursGroup, concurrency: c }),
      num(warm, 'count'),
      'ours warm-up',
      failures,
    );
    const peerWarm = await peer.ask(peerProvision(peerGroup, c, c));
    tolerate(peerWarm, c, 'peer warm-up', failures);
    tolerate(
      await peer.ask({ op: 'teardown', group: peerGroup, concurrency: c }),
      num(peerWarm, 'count'),
      'peer warm-up',
      failures,
    );
    const s = {
      oursProvision: [] as number[],
      oursDestroy: [] as number[],
      peerProvision: [] as number[],
      peerDestroy: [] as number[],
      oursCalls: [] as number[],
      peerCalls: [] as number[],
    };
    const provisionLatency: Latency = {};
    const destroyLatency: Latency = {};
    for (let round = 0; round < ctx.config.reps; round++) {
      const runOurs = async () => {
        const p = await ours.ask({ op: 'provision', group: oursGroup, count: n, concurrency: c });
        tolerate(p, n, 'ours provision', failures);
        const d = await ours.ask({ op: 'teardown', group: oursGroup, concurrency: c });
        tolerate(d, num(p, 'count'), 'ours destroy', failures);
        addLatency(provisionLatency, p);
        addLatency(destroyLatency, d);
        s.oursProvision.push(num(p, 'ms'));
        s.oursDestroy.push(num(d, 'ms'));
        s.oursCalls.push(num(p, 'calls') + num(d, 'calls'));
      };
      const runPeer = async () => {
        const p = await peer.ask(peerProvision(peerGroup, n, c));
        tolerate(p, n, 'peer provision', failures);
        const d = await peer.ask({ op: 'teardown', group: peerGroup, concurrency: c });
        tolerate(d, num(p, 'count'), 'peer destroy', failures);
        s.peerProvision.push(num(p, 'ms'));
        s.peerDestroy.push(num(d, 'ms'));
        s.peerCalls.push(num(p, 'calls') + num(d, 'calls'));
      };
      if (round % 2 === 0) {
        await runOurs();
        await runPeer();
      } else {
        await runPeer();
        await runOurs();
      }
      ctx.log(
        `  P3 round ${round + 1}: ours ${fmt(s.oursProvision.at(-1)!)} + ${fmt(s.oursDestroy.at(-1)!)} ms, peer ${fmt(s.peerProvision.at(-1)!)} + ${fmt(s.peerDestroy.at(-1)!)} ms`,
      );
    }
    addSeries(result, 'ours: provision', 'ms', s.oursProvision);
    addSeries(result, 'peer: provision', 'ms', s.peerProvision);
    addSeries(result, 'ours: destroy', 'ms', s.oursDestroy);
    addSeries(result, 'peer: destroy', 'ms', s.peerDestroy);
    addSeries(result, 'ours: round trips, both phases', 'calls', s.oursCalls);
    addSeries(result, 'peer: round trips, both phases', 'calls', s.peerCalls);
    const prov = addRatio(result, 'ours / peer, provision', s.oursProvision, s.peerProvision);
    const dest = addRatio(result, 'ours / peer, destroy', s.oursDestroy, s.peerDestroy);
    const atSize = n === 200 ? undefined : `measured with ${n} clones; the target is defined at 200`;
    addTarget(result, 'provision ≤ 1.0× peer', n === 200 ? prov <= 1 : undefined, `${fmt(prov)}×`, atSize);
    addTarget(result, 'destroy ≤ 1.0× peer', n === 200 ? dest <= 1 : undefined, `${fmt(dest)}×`, atSize);
    result.notes.push(
      'one warm-up round per side first (folders made, caches warm); rounds alternate which side goes first; both sides share one vcsim.',
    );
    result.notes.push(
      `ours runs with maxConcurrentBuildsPerHost ${limit === '0' ? '0 (no limit)' : limit}${process.env.BENCH_BUILDS_PER_HOST === undefined ? ' (the default)' : ' (BENCH_BUILDS_PER_HOST)'}: every clone is of ${TEMPLATE} on ${HOST}, so at most that many of the ${c} are in vCenter at once; the peer has no limit. vcsim runs the clones of one template one after another.`,
    );
    if (failures.length > 0) {
      result.notes.push(
        `${failures.length} VM operation(s) failed during the timed rounds (times include them): ${[...new Set(failures)].slice(0, 4).join(' | ')}`,
      );
    }
    result.notes.push(`ours, provision, slowest waits: ${latencyList(provisionLatency, ctx.config.reps)}`);
    result.notes.push(`ours, destroy, slowest waits: ${latencyList(destroyLatency, ctx.config.reps)}`);
  } catch (error) {
    result.error = (error as Error).message.split('\n').slice(0, 6).join(' | ');
  }
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

/**
 * Measures on one large vcsim inventory: P1 round trips per describe, P2 describe wall time
 * against the govmomi peer and the wire floor, P4 decode CPU of a captured response, P5 peak RSS
 * of a process describing a big group. The groups are built straight into vcsim (lib/groups.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PART_CONCURRENCY, DEFAULT_PART_SIZE } from '../../../src/property/collector.ts';
import { Vcsim } from '../../vcsim/vcsim.ts';
import { ensureBuilt } from '../lib/build.ts';
import {
  type BenchContext,
  benchDir,
  cacheDir,
  DC,
  groupName,
  num,
  repoRoot,
  startOurs,
  startPeer,
} from '../lib/context.ts';
import { prepareGroup } from '../lib/groups.ts';
import type { Answer, LineProcess } from '../lib/line-process.ts';
import { RawSoap, SOAP_ENVELOPE_HEAD, SOAP_ENVELOPE_TAIL } from '../lib/raw-soap.ts';
import { addRatio, addSeries, addTarget, type MeasureResult, newResult } from '../lib/report.ts';
import { fmt, median } from '../lib/stats.ts';

async function timed<T>(result: MeasureResult, fn: () => Promise<T>): Promise<T | undefined> {
  const started = performance.now();
  try {
    return await fn();
  } catch (error) {
    result.error = (error as Error).message.split('\n').slice(0, 6).join(' | ');
    return undefined;
  } finally {
    result.seconds = (performance.now() - started) / 1000;
  }
}

export async function runReadMeasures(ctx: BenchContext, only: Set<string>): Promise<MeasureResult[]> {
  const { config } = ctx;
  const sizes = new Set<number>();
  if (only.has('P1')) for (const n of config.p1Sizes) sizes.add(n);
  if (only.has('P2')) sizes.add(config.p2Size);
  if (only.has('P4')) sizes.add(config.p4Vms);
  if (only.has('P5')) sizes.add(config.p5Size);
  if (only.has('P8')) for (const n of config.p8Sizes) sizes.add(n);
  if (sizes.size === 0) return [];

  ctx.log(`reads: starting vcsim and building groups of ${[...sizes].join(', ')} VMs`);
  const sim = await Vcsim.start({});
  const untrack = ctx.track(() => sim.stop());
  const results: MeasureResult[] = [];
  let ours: LineProcess | undefined;
  let peer: LineProcess | undefined;
  try {
    const soap = new RawSoap(sim.sdkUrl);
    await soap.login();
    for (const n of [...sizes].sort((a, b) => a - b)) {
      const made = await prepareGroup(soap, { group: groupName(n), count: n, concurrency: 16 });
      ctx.log(`  group ${made.group}: ${n} VMs in ${(made.ms / 1000).toFixed(1)} s`);
    }
    await soap.logout();
    soap.close();
    ours = await startOurs(ctx, sim);
    if (only.has('P2') || only.has('P8')) peer = await startPeer(ctx, sim);
    if (only.has('P1')) results.push(await p1(ctx, ours));
    if (only.has('P2')) results.push(await p2(ctx, ours, peer!));
    if (only.has('P4')) results.push(await p4(ctx, sim, ours));
    if (only.has('P5')) results.push(await p5(ctx, sim, peer));
    if (only.has('P8')) results.push(await p8(ctx, sim, ours, peer!));
  } finally {
    await ours?.stop();
    await peer?.stop();
    await sim.stop();
    untrack();
  }
  return results;
}

/** P1: SOAP round trips per warm describe, counted at the library's HTTP transport. */
async function p1(ctx: BenchContext, ours: LineProcess): Promise<MeasureResult> {
  const result = newResult('P1', 'SOAP round trips per describe of a group, provider warm');
  await timed(result, async () => {
    for (const n of ctx.config.p1Sizes) {
      const group = groupName(n);
      const first = await ours.ask({ op: 'describe', group });
      const calls: number[] = [];
      const pages: number[] = [];
      const ms: number[] = [];
      for (let i = 0; i < ctx.config.reps; i++) {
        const answer = await ours.ask({ op: 'describe', group });
        if (num(answer, 'count') !== n)
          throw new Error(`describe of ${group} found ${String(answer.count)} instances, expected ${n}`);
        calls.push(num(answer, 'calls'));
        const methods = answer.methods as Record<string, number>;
        pages.push(1 + (methods.ContinueRetrievePropertiesEx ?? 0));
        ms.push(num(answer, 'ms'));
      }
      addSeries(result, `round trips, N=${n}`, 'calls', calls);
      addSeries(result, `wall time, N=${n} (for scale)`, 'ms', ms);
      const expected = median(pages);
      const worst = Math.max(...calls.map((c, i) => c - pages[i]!));
      addTarget(
        result,
        `N=${n}: 1 + one per extra result page`,
        worst <= 0,
        `${fmt(median(calls))} calls for ${fmt(expected)} result page(s); cold describe made ${String(first.calls)} (${Object.entries(
          first.methods as Record<string, number>,
        )
          .map(([m, c]) => `${m}×${c}`)
          .join(', ')})`,
      );
    }
    result.notes.push(
      'vcsim answers every RetrievePropertiesEx in one page, so the target is 1 round trip here; pages are counted from ContinueRetrievePropertiesEx calls.',
    );
  });
  return result;
}

/** P2: describe wall time, library vs govmomi peer vs a raw POST of the identical request. */
async function p2(ctx: BenchContext, ours: LineProcess, peer: LineProcess): Promise<MeasureResult> {
  const n = ctx.config.p2Size;
  const group = groupName(n);
  const result = newResult('P2', `describe of a ${n.toLocaleString('en')}-VM group, wall time (warm)`);
  await timed(result, async () => {
    // Warm every side once: folder caches, JIT, keep-alive sockets; the floor replays the body the
    // library just sent.
    await ours.ask({ op: 'describe', group });
    await peer.ask({ op: 'describe', group, datacenter: DC });
    const floorAnswer = await ours.ask({ op: 'floor', group });
    const series = {
      ours: [] as number[],
      peer: [] as number[],
      floor: [] as number[],
      wire: [] as number[],
    };
    const bytes = num(floorAnswer, 'bytes');
    const peerCalls: number[] = [];
    const sides = ['floor', 'ours', 'peer'] as const;
    for (let round = 0; round < ctx.config.p2Reps; round++) {
      // Rotate who goes first, so drift on the shared machine does not favour one side.
      for (let k = 0; k < sides.length; k++) {
        const side = sides[(round + k) % sides.length]!;
        if (side === 'floor') {
          const answer = await ours.ask({ op: 'floor', group });
          // A short answer (a fault, an expired session) would make a flattering floor.
          if (num(answer, 'bytes') < bytes * 0.95)
            throw new Error(`floor read ${String(answer.bytes)} of ${bytes} bytes`);
          series.floor.push(num(answer, 'ms'));
        }
        if (side === 'ours') {
          const answer = await ours.ask({ op: 'describe', group });
          if (num(answer, 'count') !== n)
            throw new Error(`library described ${String(answer.count)} of ${n}`);
          series.ours.push(num(answer, 'ms'));
          series.wire.push(num(answer, 'wireMs'));
        }
        if (side === 'peer') {
          const answer = await peer.ask({ op: 'describe', group, datacenter: DC });
          if (num(answer, 'count') !== n) throw new Error(`peer described ${String(answer.count)} of ${n}`);
          series.peer.push(num(answer, 'ms'));
          peerCalls.push(num(answer, 'calls'));
        }
      }
    }
    addSeries(result, 'ours (library describe)', 'ms', series.ours);
    addSeries(result, 'peer (govmomi, in-process time)', 'ms', series.peer);
    addSeries(result, 'floor (raw POST, body discarded)', 'ms', series.floor);
    addSeries(result, 'ours: of which request to last byte', 'ms', series.wire);
    addSeries(
      result,
      'ours: of which after the last byte',
      'ms',
      series.ours.map((x, i) => x - series.wire[i]!),
    );
    // Where the time after the last byte goes: decodeResponse alone on this very response.
    mkdirSync(cacheDir, { recursive: true });
    const file = join(cacheDir, `retrieve-${n}.xml`);
    await ours.ask({ op: 'capture', group, file });
    const decoded = await ours.ask({ op: 'decode', file, warmup: 1, reps: ctx.config.reps });
    addSeries(result, 'ours: decodeResponse alone (CPU)', 'ms', decoded.cpuMs as number[]);
    const vsPeer = addRatio(result, 'ours / peer', series.ours, series.peer);
    const vsFloor = addRatio(result, 'ours / floor', series.ours, series.floor);
    addRatio(result, 'peer / floor', series.peer, series.floor);
    const atSize = n === 10_000 ? undefined : `measured at N=${n}; the target is defined at N=10,000`;
    addTarget(result, 'ours/peer ≤ 1.0×', n === 10_000 ? vsPeer <= 1 : undefined, `${fmt(vsPeer)}×`, atSize);
    addTarget(
      result,
      'ours/floor ≤ 1.3×',
      n === 10_000 ? vsFloor <= 1.3 : undefined,
      `${fmt(vsFloor)}×`,
      atSize,
    );
    result.notes.push(
      `response body ${(bytes / 1e6).toFixed(2)} MB; the peer makes ${fmt(median(peerCalls))} round trips per describe (CreateContainerView, RetrievePropertiesEx, DestroyView), the library 1.`,
    );
  });
  return result;
}

/** P4: CPU time of decodeResponse on a RetrievePropertiesEx response captured from vcsim. */
async function p4(ctx: BenchContext, sim: Vcsim, ours: LineProcess): Promise<MeasureResult> {
  const n = ctx.config.p4Vms;
  const group = groupName(n);
  const result = newResult(
    'P4',
    `CPU to decode a captured ${n.toLocaleString('en')}-VM RetrievePropertiesEx response`,
  );
  await timed(result, async () => {
    mkdirSync(cacheDir, { recursive: true });
    const file = join(cacheDir, `retrieve-${n}.xml`);
    await ours.ask({ op: 'describe', group });
    const captured = await ours.ask({ op: 'capture', group, file });
    // A fresh process, so the heap and JIT state of the other measures do not leak in.
    const decoder = await startOurs(ctx, sim, 'decoder');
    try {
      const answer = await decoder.ask({
        op: 'decode',
        file,
        warmup: ctx.config.p4Warmup,
        reps: ctx.config.p4Reps,
      });
      // The group folder itself comes back too (its name and parent check the cached reference).
      if (num(answer, 'objects') !== n + 1)
        throw new Error(`decoded ${String(answer.objects)} objects, expected ${n} VMs and the folder`);
      const cpu = addSeries(result, 'decodeResponse CPU (user+system)', 'ms', answer.cpuMs as number[]);
      addSeries(result, 'decodeResponse wall', 'ms', answer.wallMs as number[]);
      const mb = num(captured, 'bytes') / 1e6;
      addTarget(
        result,
        '≤ 60 ms median CPU',
        n === 2000 ? cpu.median <= 60 : undefined,
        `${fmt(cpu.median)} ms`,
      );
      result.notes.push(
        `${mb.toFixed(2)} MB (name, config.annotation, guest.ipAddress per VM), ${fmt(mb / (cpu.median / 1000))} MB/s; ${ctx.config.p4Warmup} warm-up decodes first; file ${file}`,
      );
    } finally {
      await decoder.stop();
    }
  });
  return result;
}

/** P5: peak RSS of a fresh process (the built package) that logs in and describes a big group three times. */
async function p5(ctx: BenchContext, sim: Vcsim, peer: LineProcess | undefined): Promise<MeasureResult> {
  const n = ctx.config.p5Size;
  const group = groupName(n);
  const result = newResult('P5', `peak RSS of a process describing ${n.toLocaleString('en')} VMs`);
  await timed(result, async () => {
    result.notes.push(ensureBuilt(ctx));
    const script = join(benchDir, 'children', 'describe-rss.mjs');
    const peaks: number[] = [];
    const baselines: number[] = [];
    for (let i = 0; i < ctx.config.p5Reps; i++) {
      const out = execFileSync(process.execPath, [script, sim.sdkUrl, sim.certificate!.sha256, group], {
        cwd: repoRoot,
        encoding: 'utf8',
        timeout: 300_000,
      });
      const answer = JSON.parse(out) as { afterLoginKB: number; peakKB: number; count: number };
      if (answer.count !== n) throw new Error(`described ${answer.count} of ${n}`);
      peaks.push(answer.peakKB / 1024);
      baselines.push(answer.afterLoginKB / 1024);
    }
    const peak = addSeries(result, 'ours: peak RSS after 3 describes', 'MB', peaks);
    addSeries(result, 'ours: peak RSS after login only', 'MB', baselines);
    if (peer) {
      const peerPeak = num(await peer.ask({ op: 'rusage' }), 'maxRssKB') / 1024;
      addSeries(result, 'peer: peak RSS (after its P2 describes)', 'MB', [peerPeak]);
      result.notes.push(
        `the peer's figure is the Go process after its warm-up and P2 describes of the ${ctx.config.p2Size}-VM group`,
      );
    }
    addTarget(
      result,
      '< 150 MB',
      n === 10_000 ? peak.max < 150 : undefined,
      `median ${fmt(peak.median)} MB, worst ${fmt(peak.max)} MB`,
      n === 10_000 ? undefined : `measured at N=${n}; the target is defined at N=10,000`,
    );
    result.notes.push(
      'children/describe-rss.mjs on the built package; ru_maxrss from process.resourceUsage(); Node defaults (no heap flags).',
    );
  });
  return result;
}

/**
 * P8: describe answered from the inventory mirror (a second worker with the mirror on) against the
 * full read (the worker with it off): cold, warm with nothing changed, warm after one VM was
 * re-labelled by another client; time and response bytes.
 */
async function p8(
  ctx: BenchContext,
  sim: Vcsim,
  ours: LineProcess,
  peer: LineProcess,
): Promise<MeasureResult> {
  const result = newResult('P8', 'describe from the inventory mirror vs a full read');
  await timed(result, async () => {
    if (ctx.config.p8Cold > 0)
      for (const n of ctx.config.p8Sizes) await p8Cold(ctx, sim, ours, peer, result, n);
    if (ctx.config.p8ColdOnly) return;
    const variants = ctx.config.p8Sizes.flatMap((size) => [
      { n: size, membership: true },
      ...(ctx.config.p8NoCheck ? [{ n: size, membership: false }] : []),
    ]);
    for (const { n, membership } of variants) {
      const group = groupName(n);
      // Without the membership check (the folder's children read with each drain, because vcsim
      // sends no `leave` for a VM moved out): what the design costs on a server that sends `leave`.
      const tag = membership ? `N=${n}` : `N=${n}, no membership check`;
      const mirrored = await startOurs(
        ctx,
        sim,
        'mirrored',
        {
          ...process.env,
          INFRAKIT_VSPHERE_DESCRIBE_MIRROR: '1',
          BENCH_MIRROR_CHECK: membership ? '1' : '0',
        },
        ['--expose-gc'],
      );
      try {
        const check = (answer: Answer, who: string) => {
          if (num(answer, 'count') !== n) throw new Error(`${who} described ${String(answer.count)} of ${n}`);
          return answer;
        };
        const heapBefore = num(await mirrored.ask({ op: 'heap' }), 'heapUsed');
        const cold = check(await mirrored.ask({ op: 'describe', group }), 'cold');
        const built = await mirrored.ask({ op: 'mirrorReady' });
        // The mirror and the provider's caches (folders, datacenters), after a collection.
        const heapAfter = num(await mirrored.ask({ op: 'heap' }), 'heapUsed');
        if (!(built.states as string[]).every((s) => s === 'ready'))
          throw new Error(`mirror not ready: ${JSON.stringify(built.states)}`);
        await ours.ask({ op: 'describe', group });
        if (membership) {
          // Cold describe against govmomi's full read of the same group (what P2 measures at 10,000).
          const peerFull = check(await peer.ask({ op: 'describe', group, datacenter: DC }), 'peer full read');
          addSeries(result, `${tag}: peer (govmomi) full read`, 'ms', [num(peerFull, 'ms')]);
          addSeries(result, `${tag}: cold describe, mirror on / peer full read`, '×', [
            num(cold, 'ms') / num(peerFull, 'ms'),
          ]);
        }
        // The govmomi mirror, alongside each variant up to 10,000 VMs (at 45,000 one drain after a
        // change takes vcsim half a minute); its cold build once per size.
        const peerMirror = n <= 10_000;
        const peerSide = { ms: [] as number[], changedMs: [] as number[] };
        if (peerMirror && membership) {
          const peerCold = await peer.ask({ op: 'mirrorDescribe', group, datacenter: DC });
          check(peerCold, 'peer mirror (cold)');
          addSeries(result, `N=${n}: peer (govmomi) mirror, built and described (cold)`, 'ms', [
            num(peerCold, 'ms'),
          ]);
        }
        const full = { ms: [] as number[], bytes: [] as number[] };
        const idle = { ms: [] as number[], bytes: [] as number[] };
        const changed = { ms: [] as number[], bytes: [] as number[] };
        let last: Answer | undefined;
        for (let i = 0; i < ctx.config.reps; i++) {
          const a = check(await ours.ask({ op: 'describe', group }), 'full read');
          full.ms.push(num(a, 'ms'));
          full.bytes.push(num(a, 'bytes'));
          const b = check(await mirrored.ask({ op: 'describe', group }), 'mirror');
          idle.ms.push(num(b, 'ms'));
          idle.bytes.push(num(b, 'bytes'));
          if (peerMirror) {
            const c = check(await peer.ask({ op: 'mirrorDescribe', group, datacenter: DC }), 'peer mirror');
            peerSide.ms.push(num(c, 'ms'));
          }
          // The re-label comes from another process (the mirror-off worker), as from another
          // client: a second provider inside the measured worker would count in its RSS.
          await ours.ask({ op: 'touch', group });
          // Who drains first after the change alternates (vcsim's drain cost after a change is
          // per collector, so the order should not matter; alternating shows if it does).
          const peerFirst = peerMirror && i % 2 === 1;
          if (peerFirst) {
            const c = check(await peer.ask({ op: 'mirrorDescribe', group, datacenter: DC }), 'peer mirror');
            peerSide.changedMs.push(num(c, 'ms'));
          }
          last = check(await mirrored.ask({ op: 'describe', group }), 'mirror after a change');
          changed.ms.push(num(last, 'ms'));
          changed.bytes.push(num(last, 'bytes'));
          if (peerMirror && !peerFirst) {
            const c = check(await peer.ask({ op: 'mirrorDescribe', group, datacenter: DC }), 'peer mirror');
            peerSide.changedMs.push(num(c, 'ms'));
          }
        }
        const stats = (last?.mirror ?? {}) as Record<string, number>;
        if (stats.fallbacks) throw new Error(`${stats.fallbacks} fallback(s) to a full read during P8`);
        // The mirror with each VM's description kept (made by the describes above).
        const kept = await mirrored.ask({ op: 'heap' });
        addSeries(result, `${tag}: heap held by the mirror and its kept descriptions, per VM`, 'B', [
          (num(kept, 'heapUsed') - heapBefore) / n,
        ]);
        addSeries(result, `${tag}: library RSS after the rounds (after a collection)`, 'MB', [
          num(kept, 'rss') / 1024 / 1024,
        ]);
        const plateauAt = Math.min(10_000, Math.max(...ctx.config.p8Sizes));
        if (membership && ctx.config.p8Plateau > 0 && n === plateauAt) {
          // A long-lived provider: many describes with nothing changed and one re-label every 100.
          const loop = await mirrored.ask(
            {
              op: 'describeLoop',
              group,
              count: ctx.config.p8Plateau,
              touchEvery: 100,
            },
            1_800_000,
          );
          const samples = loop.rss as number[];
          const at50 = samples[0]!;
          const atEnd = samples[samples.length - 1]!;
          addSeries(
            result,
            `${tag}: RSS of a long-lived provider, after 50 describes / after ${ctx.config.p8Plateau}`,
            'MB',
            [at50 / 1024 / 1024, atEnd / 1024 / 1024],
          );
          addSeries(
            result,
            `${tag}: RSS every 50 describes`,
            'MB',
            samples.map((x) => x / 1024 / 1024),
          );
          addTarget(
            result,
            `a long-lived provider's RSS plateaus: after ${ctx.config.p8Plateau} describes within 10% of after 50`,
            atEnd <= at50 * 1.1,
            `${fmt(atEnd / at50)}× (${fmt(at50 / 1024 / 1024)} → ${fmt(atEnd / 1024 / 1024)} MB)`,
          );
        }
        addSeries(result, `${tag}: full read (mirror off)`, 'ms', full.ms);
        addSeries(
          result,
          `${tag}: full read bytes`,
          'KB',
          full.bytes.map((x) => x / 1024),
        );
        addSeries(result, `${tag}: cold describe, mirror on (full read, mirror built after)`, 'ms', [
          num(cold, 'ms'),
        ]);
        addSeries(result, `${tag}: mirror build (initial read in pages, in the background)`, 'ms', [
          num(built, 'ms'),
        ]);
        addSeries(result, `${tag}: heap held by the mirror, per VM`, 'B', [(heapAfter - heapBefore) / n]);
        const idleMs = addSeries(result, `${tag}: mirror, nothing changed`, 'ms', idle.ms);
        addSeries(
          result,
          `${tag}: mirror, nothing changed, bytes`,
          'KB',
          idle.bytes.map((x) => x / 1024),
        );
        addSeries(result, `${tag}: mirror, one VM changed`, 'ms', changed.ms);
        const changedBytes = addSeries(
          result,
          `${tag}: mirror, one VM changed, bytes`,
          'KB',
          changed.bytes.map((x) => x / 1024),
        );
        const vsFull = addRatio(
          result,
          `${tag}: mirror nothing changed / full read (time)`,
          idle.ms,
          full.ms,
        );
        addRatio(result, `${tag}: mirror one changed / full read (time)`, changed.ms, full.ms);
        const bytesRatio = changedBytes.median / (median(full.bytes) / 1024);
        if (peerMirror) {
          addSeries(result, `${tag}: peer (govmomi) mirror, nothing changed`, 'ms', peerSide.ms);
          addSeries(result, `${tag}: peer (govmomi) mirror, one VM changed`, 'ms', peerSide.changedMs);
          addRatio(result, `${tag}: mirror nothing changed / peer mirror`, idle.ms, peerSide.ms);
          const vsPeer = addRatio(
            result,
            `${tag}: mirror one changed / peer mirror`,
            changed.ms,
            peerSide.changedMs,
          );
          if (membership) {
            addTarget(
              result,
              'one VM changed: time within 1.25× of the govmomi mirror',
              n === 10_000 ? vsPeer <= 1.25 : undefined,
              `${fmt(vsPeer)}×`,
              n === 10_000 ? undefined : `measured at N=${n}; the target is defined at N=10,000`,
            );
          }
        }
        if (!membership) continue;
        const at10k = n === 10_000 ? undefined : `measured at N=${n}; the target is defined at N=10,000`;
        addTarget(
          result,
          'nothing changed: time ≤ 1/10 of the full read',
          n === 10_000 ? vsFull <= 0.1 : undefined,
          `${fmt(vsFull)}× (${fmt(idleMs.median)} ms)`,
          at10k,
        );
        addTarget(
          result,
          'one VM changed: bytes ≤ 1/100 of the full read',
          n === 10_000 ? bytesRatio <= 0.01 : undefined,
          `${fmt(bytesRatio)}×`,
          at10k,
        );
      } finally {
        await mirrored.stop();
      }
    }
    result.notes.push(
      "A mirrored describe is one WaitForUpdatesEx (maxWaitSeconds 0) plus, at the same time, one read of the collector's filters and of vCenter's recent tasks (a folder move is a task: only after one is the group folder's childEntity read, because vcsim reports nothing when a VM is moved out); new tasks have their descriptionId read, and a changed annotation is read again (one RetrievePropertiesEx each). vcsim collects the whole filter again for every queued update, so after a change the time is vcsim's, not the design's; the govmomi mirror peer (peer/main.go mirrorDescribe: the same filter, drain and re-read, without a membership check) is the fair bar, measured in the same rounds as each variant (same changes) up to 10,000 VMs. The targets are judged on the mirror as it ships (membership check on).",
    );
  });
  return result;
}

/**
 * CPU time (user + system, ms) a process has used so far, from /proc; undefined where there is no
 * /proc (the figures that need it are then left out).
 */
function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    // USER_HZ is 100 on every Linux the benchmark runs on.
    return Number.isFinite(ticks) ? ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The wire floor of a mirrored cold describe: the requests the library makes for it (the group
 * folder's `name`, `parent` and `childEntity`, then its VMs by reference in parts, as
 * `PropertyCollector.propertiesMapped` splits them), over hand-written HTTPS, every answer read
 * to its end and thrown away. What a client that took no time at all to decode would pay.
 */
async function coldReadFloor(
  sim: Vcsim,
  group: string,
): Promise<{ read: () => Promise<void>; close: () => Promise<void> }> {
  const soap = new RawSoap(sim.sdkUrl);
  await soap.login();
  const folder = await soap.findByPath(`${DC}/vm/${group}`);
  if (!folder) throw new Error(`no folder ${DC}/vm/${group}`);
  const pc = soap.content.propertyCollector;
  const wrap = (body: string) => `${SOAP_ENVELOPE_HEAD}${body}${SOAP_ENVELOPE_TAIL}`;
  const head = wrap(
    `<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">${pc}</_this><specSet><propSet><type>Folder</type><pathSet>name</pathSet><pathSet>parent</pathSet><pathSet>childEntity</pathSet></propSet><objectSet><obj type="Folder">${folder.value}</obj><skip>false</skip></objectSet></specSet><options/></RetrievePropertiesEx>`,
  );
  const paths = ['name', 'config.annotation', 'guest.ipAddress']
    .map((p) => `<pathSet>${p}</pathSet>`)
    .join('');
  const vms = (await soap.childEntities(folder.value)).filter((c) => c.type === 'VirtualMachine');
  const parts: string[] = [];
  for (let at = 0; at < vms.length; at += DEFAULT_PART_SIZE) {
    const objects = vms
      .slice(at, at + DEFAULT_PART_SIZE)
      .map((vm) => `<objectSet><obj type="VirtualMachine">${vm.value}</obj><skip>false</skip></objectSet>`)
      .join('');
    parts.push(
      wrap(
        `<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">${pc}</_this><specSet><propSet><type>VirtualMachine</type>${paths}</propSet>${objects}<reportMissingObjectsInResults>true</reportMissingObjectsInResults></specSet><options/></RetrievePropertiesEx>`,
      ),
    );
  }
  const post = async (envelope: string) => {
    const answer = await soap.postDiscard(envelope);
    if (answer.status !== 200) throw new Error(`floor read: HTTP ${answer.status}`);
  };
  return {
    read: async () => {
      await post(head);
      let next = 0;
      const worker = async () => {
        while (next < parts.length) await post(parts[next++]!);
      };
      await Promise.all(Array.from({ length: Math.min(DEFAULT_PART_CONCURRENCY, parts.length) }, worker));
    },
    close: () => soap.logout(),
  };
}

/**
 * P8, repeated cold describes of an `n`-VM group: per round, in a rotating order, the govmomi
 * full read (the peer of the target), the warm library worker's full read (mirror off), the first
 * describe of a fresh mirrored worker process (JIT cold: what a provider that just started pays)
 * and the first describe of a fresh mirrored provider in a warm process. After each cold describe
 * its mirror is waited for, so that no background build runs into the next measured read.
 */
async function p8Cold(
  ctx: BenchContext,
  sim: Vcsim,
  ours: LineProcess,
  peer: LineProcess,
  result: MeasureResult,
  n: number,
): Promise<void> {
  const group = groupName(n);
  const tag = `N=${n}, cold rounds`;
  const check = (answer: Answer, who: string) => {
    if (num(answer, 'count') !== n) throw new Error(`${who} described ${String(answer.count)} of ${n}`);
    return answer;
  };
  const mirrorEnv = { ...process.env, INFRAKIT_VSPHERE_DESCRIBE_MIRROR: '1' };
  // The provider-in-a-warm-process side runs in a worker of its own, warmed by one untimed round.
  const warmProcess = await startOurs(ctx, sim, 'cold-provider', mirrorEnv);
  const floor = await coldReadFloor(sim, group);
  try {
    await ours.ask({ op: 'describe', group });
    await peer.ask({ op: 'describe', group, datacenter: DC });
    await floor.read();
    check(await warmProcess.ask({ op: 'coldDescribe', group }, 1_800_000), 'cold provider (warm-up)');
    const series = {
      peer: [] as number[],
      full: [] as number[],
      floor: [] as number[],
      singleFloor: [] as number[],
      process: [] as number[],
      processBuilt: [] as number[],
      provider: [] as number[],
      providerBuilt: [] as number[],
      baseline: [] as number[],
      /** vcsim's CPU during one read: the peer's, the floor's, the fresh process's cold describe. */
      simPeer: [] as number[],
      simFloor: [] as number[],
      simProcess: [] as number[],
      /** The fresh process's own CPU during its cold describe. */
      clientProcess: [] as number[],
    };
    /** Runs `read`, adding vcsim's CPU during it to `into` when /proc tells. */
    const simCpu = async <T>(into: number[], read: () => Promise<T>): Promise<T> => {
      const before = processCpuMs(sim.pid);
      const answer = await read();
      const after = processCpuMs(sim.pid);
      if (before !== undefined && after !== undefined) into.push(after - before);
      return answer;
    };
    // BENCH_P8_COLD_BASELINE=<dir>: fresh processes on another copy of src/ too, in the same
    // rounds (a before/after comparison on one vcsim, under the same load).
    const baseline = process.env.BENCH_P8_COLD_BASELINE;
    const sides = [
      'peer',
      'full',
      'floor',
      'singleFloor',
      'process',
      'provider',
      ...(baseline ? ['baseline' as const] : []),
    ];
    for (let round = 0; round < ctx.config.p8Cold; round++) {
      for (let k = 0; k < sides.length; k++) {
        const side = sides[(round + k) % sides.length]!;
        if (side === 'peer') {
          const a = check(
            await simCpu(series.simPeer, () => peer.ask({ op: 'describe', group, datacenter: DC })),
            'peer full read',
          );
          series.peer.push(num(a, 'ms'));
        } else if (side === 'floor') {
          const started = performance.now();
          await simCpu(series.simFloor, floor.read);
          series.floor.push(performance.now() - started);
        } else if (side === 'singleFloor') {
          // The warm worker replays its own last full read (P2's floor), the answer discarded.
          series.singleFloor.push(num(await ours.ask({ op: 'floor', group }), 'ms'));
        } else if (side === 'full') {
          const a = check(await ours.ask({ op: 'describe', group }), 'full read');
          series.full.push(num(a, 'ms'));
        } else if (side === 'process' || side === 'baseline') {
          const env = side === 'baseline' ? { ...mirrorEnv, BENCH_LIBRARY: baseline } : mirrorEnv;
          const fresh = await startOurs(ctx, sim, `cold-${side}`, env);
          try {
            const a = check(
              await simCpu(side === 'baseline' ? [] : series.simProcess, () =>
                fresh.ask({ op: 'describe', group }, 1_800_000),
              ),
              'cold process',
            );
            const built = await fresh.ask({ op: 'mirrorReady' }, 1_800_000);
            if (!(built.states as string[]).every((s) => s === 'ready'))
              throw new Error(`mirror not ready: ${JSON.stringify(built.states)}`);
            if (side === 'baseline') {
              series.baseline.push(num(a, 'ms'));
            } else {
              series.process.push(num(a, 'ms'));
              series.processBuilt.push(num(built, 'ms'));
              series.clientProcess.push(num(a, 'cpuMs'));
            }
          } finally {
            await fresh.stop();
          }
        } else {
          const a = check(await warmProcess.ask({ op: 'coldDescribe', group }, 1_800_000), 'cold provider');
          if (!(a.states as string[]).every((s) => s === 'ready'))
            throw new Error(`mirror not ready: ${JSON.stringify(a.states)}`);
          series.provider.push(num(a, 'ms'));
          series.providerBuilt.push(num(a, 'builtMs'));
        }
      }
    }
    addSeries(result, `${tag}: peer (govmomi) full read`, 'ms', series.peer);
    addSeries(result, `${tag}: library full read (mirror off, warm)`, 'ms', series.full);
    addSeries(result, `${tag}: cold describe, fresh process`, 'ms', series.process);
    addSeries(result, `${tag}: cold describe, fresh provider in a warm process`, 'ms', series.provider);
    addSeries(
      result,
      `${tag}: mirror built after the cold describe (fresh process)`,
      'ms',
      series.processBuilt,
    );
    addSeries(
      result,
      `${tag}: mirror built after the cold describe (fresh provider)`,
      'ms',
      series.providerBuilt,
    );
    const vsPeer = addRatio(
      result,
      `${tag}: cold (fresh process) / peer full read`,
      series.process,
      series.peer,
    );
    addRatio(result, `${tag}: cold (fresh provider) / peer full read`, series.provider, series.peer);
    addRatio(result, `${tag}: library full read / peer full read`, series.full, series.peer);
    addSeries(result, `${tag}: wire floor of the cold read (answers discarded)`, 'ms', series.floor);
    const floorVsPeer = addRatio(
      result,
      `${tag}: wire floor of the cold read / peer full read`,
      series.floor,
      series.peer,
    );
    addSeries(result, `${tag}: wire floor of one full read (answer discarded)`, 'ms', series.singleFloor);
    addRatio(result, `${tag}: wire floor of one full read / peer full read`, series.singleFloor, series.peer);
    addSeries(
      result,
      `${tag}: CPU of the fresh process during its cold describe`,
      'ms',
      series.clientProcess,
    );
    if (series.simProcess.length > 0) {
      addSeries(result, `${tag}: vcsim CPU during the peer's full read`, 'ms', series.simPeer);
      addSeries(result, `${tag}: vcsim CPU during the floor's read`, 'ms', series.simFloor);
      addSeries(
        result,
        `${tag}: vcsim CPU during the cold describe (fresh process)`,
        'ms',
        series.simProcess,
      );
      // vcsim and the client share this machine's cores: no cold describe can end before both
      // have had their CPU time, even with every core busy all the way through.
      const cores = availableParallelism();
      const bound = (median(series.simProcess) + median(series.clientProcess)) / cores;
      result.notes.push(
        `N=${n}: vcsim needs ${fmt(median(series.simProcess))} ms of CPU for the cold describe's reads ` +
          `and the fresh process ${fmt(median(series.clientProcess))} ms; on ${cores} cores that is at least ` +
          `${fmt(bound)} ms of wall time, ${fmt(bound / median(series.peer))}× the peer's full read, with every ` +
          `core busy throughout (the wire floor alone, no decoding: ${fmt(floorVsPeer)}×)`,
      );
    }
    if (baseline) {
      addSeries(
        result,
        `${tag}: cold describe, fresh process, baseline (${baseline})`,
        'ms',
        series.baseline,
      );
      addRatio(
        result,
        `${tag}: cold (fresh process), baseline / peer full read`,
        series.baseline,
        series.peer,
      );
      addRatio(result, `${tag}: cold (fresh process) / baseline`, series.process, series.baseline);
    }
    addTarget(
      result,
      `cold describe ≤ 0.6× the govmomi full read, N=${n} (fresh process, ${ctx.config.p8Cold} rounds)`,
      n === 10_000 || n === 45_000 ? vsPeer <= 0.6 : undefined,
      `${fmt(vsPeer)}×`,
      n === 10_000 || n === 45_000
        ? undefined
        : `measured at N=${n}; the target is defined at 10,000 and 45,000`,
    );
  } finally {
    await warmProcess.stop();
    await floor.close();
  }
}

/** Run configuration and the two sides (library worker, govmomi peer) the measures drive. */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Vcsim } from '../../vcsim/vcsim.ts';
import { type Answer, LineProcess } from './line-process.ts';

export const benchDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = resolve(benchDir, '..', '..');
export const cacheDir = join(repoRoot, '.cache', 'bench');
export const workerScript = join(benchDir, 'worker.ts');

export interface Config {
  quick: boolean;
  /** Repetitions of each measure (quick: 2). */
  reps: number;
  /** P1: group sizes. */
  p1Sizes: number[];
  /** P2: group size of the describe wall-time comparison (the target is defined at 10,000). */
  p2Size: number;
  p2Reps: number;
  /** P3: clones per phase and their concurrency. */
  p3Clones: number;
  p3Concurrency: number;
  /** P4: VMs in the captured response, decodes measured (after warm-up decodes). */
  p4Vms: number;
  p4Reps: number;
  p4Warmup: number;
  /** P5: group size described by each fresh child, children measured. */
  p5Size: number;
  p5Reps: number;
  /** P6: spawn pairs (empty script, import script). */
  p6Reps: number;
  /** P8: group sizes of the describe-mirror comparison (env BENCH_P8_SIZES=1000,5000,... overrides). */
  p8Sizes: number[];
  /** P8: also run each size without the membership check (env BENCH_P8_NOCHECK=0: not). */
  p8NoCheck: boolean;
  /**
   * P8: describes made by one long-lived mirrored worker on the 10,000-VM group (or the largest),
   * its RSS sampled after the 50th and the last (env BENCH_P8_PLATEAU; 0: not measured).
   */
  p8Plateau: number;
  /**
   * P8: rounds of cold describes per size (env BENCH_P8_COLD; 0, the default of a full run: only
   * the one cold describe of each variant; 1 in a quick run): each round a govmomi full read, a
   * full read of the warm library worker, the first describe of a fresh mirrored worker process
   * and that of a fresh mirrored provider in a warm process, in a rotating order.
   */
  p8Cold: number;
  /** P8: only the cold rounds, not the variants (env BENCH_P8_COLD_ONLY=1). */
  p8ColdOnly: boolean;
  /** Skip `npm run build` even when dist/ is older than src/. */
  noBuild: boolean;
}

/** P8's sizes, variants and plateau, from the environment when set there. */
function p8Env(
  sizes: number[],
  plateau: number,
  coldRounds: number,
): Pick<Config, 'p8Sizes' | 'p8NoCheck' | 'p8Plateau' | 'p8Cold' | 'p8ColdOnly'> {
  const given = (process.env.BENCH_P8_SIZES ?? '')
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
  const describes = Number(process.env.BENCH_P8_PLATEAU ?? plateau);
  const cold = Number(process.env.BENCH_P8_COLD ?? coldRounds);
  return {
    p8Sizes: given.length > 0 ? given : sizes,
    p8NoCheck: process.env.BENCH_P8_NOCHECK !== '0',
    p8Plateau: Number.isInteger(describes) && describes > 50 ? describes : 0,
    p8Cold: Number.isInteger(cold) && cold > 0 ? cold : 0,
    p8ColdOnly: process.env.BENCH_P8_COLD_ONLY === '1' && Number.isInteger(cold) && cold > 0,
  };
}

export function makeConfig(quick: boolean, noBuild: boolean): Config {
  if (quick) {
    return {
      quick,
      reps: 2,
      p1Sizes: [10, 300],
      p2Size: 1000,
      p2Reps: 2,
      p3Clones: 32,
      p3Concurrency: 16,
      p4Vms: 2000,
      p4Reps: 5,
      p4Warmup: 3,
      p5Size: 1000,
      p5Reps: 2,
      p6Reps: 5,
      // One cold round, so that the smoke run keeps the cold rounds and their floors working.
      ...p8Env([300], 0, 1),
      noBuild,
    };
  }
  return {
    quick,
    reps: 5,
    p1Sizes: [10, 1000, 10000],
    p2Size: 10000,
    p2Reps: 7,
    p3Clones: 200,
    p3Concurrency: 16,
    p4Vms: 2000,
    p4Reps: 15,
    p4Warmup: 5,
    p5Size: 10000,
    p5Reps: 5,
    p6Reps: 15,
    ...p8Env([1000, 10000], 0, 0),
    noBuild,
  };
}

export interface BenchContext {
  config: Config;
  peerBinary: string;
  log: (message: string) => void;
  /** Everything to stop on exit or interrupt (vcsims, children). */
  track: (stop: () => Promise<void>) => () => void;
  machineNotes: { govmomi?: string; vcsim?: string };
}

export const DC = 'DC0';
export const DATASTORE = 'LocalDS_0';
export const HOST = 'DC0_H0';
export const TEMPLATE = 'DC0_H0_VM0';

export function groupName(size: number): string {
  return `bench-n${size}`;
}

/** Starts the library worker against `sim` (logged in before it answers ready). */
export async function startOurs(
  ctx: BenchContext,
  sim: Vcsim,
  name = 'ours',
  env?: NodeJS.ProcessEnv,
  extraFlags: string[] = [],
): Promise<LineProcess> {
  // BENCH_WORKER_FLAGS passes node flags to the library worker, e.g. to profile it:
  // BENCH_WORKER_FLAGS="--cpu-prof --cpu-prof-dir=.cache/bench/prof" node test/bench/run.ts --only P2
  const flags = [...(process.env.BENCH_WORKER_FLAGS ?? '').split(/\s+/).filter(Boolean), ...extraFlags];
  const { proc } = await LineProcess.start(
    name,
    process.execPath,
    [...flags, workerScript, sim.sdkUrl, sim.certificate!.sha256],
    env,
  );
  const untrack = ctx.track(() => proc.stop());
  const stop = proc.stop.bind(proc);
  proc.stop = async () => {
    untrack();
    await stop();
  };
  return proc;
}

/** Starts the govmomi peer against `sim` (logged in before it answers ready). */
export async function startPeer(ctx: BenchContext, sim: Vcsim): Promise<LineProcess> {
  const { proc, ready } = await LineProcess.start('peer', ctx.peerBinary, ['-url', sim.urlWithCredentials]);
  ctx.machineNotes.govmomi = String(ready.govmomi ?? '?');
  const untrack = ctx.track(() => proc.stop());
  const stop = proc.stop.bind(proc);
  proc.stop = async () => {
    untrack();
    await stop();
  };
  return proc;
}

export type { Answer };

/** Numbers out of a worker's or the peer's answer. */
export function num(answer: Answer, key: string): number {
  const value = answer[key];
  if (typeof value !== 'number') throw new Error(`answer has no number ${key}: ${JSON.stringify(answer)}`);
  return value;
}

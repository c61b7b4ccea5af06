/**
 * Long-running scenarios shared by the CI tests (short) and `npm run soak` (long): the same code
 * with a different duration, so what CI checks is what the soak run stresses.
 */
import assert from 'node:assert/strict';
import { NotFoundError, type VSphereInstanceProvider } from '../../src/index.ts';
import { cloneProps, describeError, groupTags, type Rig, settle, sleep } from './harness.ts';
import { seededRandom } from './rng.ts';

export interface CycleOptions {
  rig: Rig;
  provider: VSphereInstanceProvider;
  /** How long the workers keep starting cycles. */
  durationMs: number;
  /** Concurrent workers, each on its own group. */
  workers: number;
  /** Longest idle pause between two operations (drawn uniformly from 0..maxPauseMs). */
  maxPauseMs: number;
  /** Restart vcsim when this much of the run has passed (0..1), between cycles. */
  restartAt?: number[];
  seed: number;
  /** Called with a line per cycle (progress for long runs). */
  progress?: (line: string) => void;
}

export interface CycleReport {
  cycles: number;
  operations: number;
  /** `op: CODE: message` for every operation that failed (expected: none). */
  failures: string[];
  restarts: number;
  /** Wall time of each kind of operation, ms. */
  timings: Record<'provision' | 'describe' | 'label' | 'destroy', number[]>;
}

/**
 * Rounds of lifecycle cycles: in each round every worker (its own group) provisions, then all
 * describe, label, describe, destroy and describe, each step run by all workers at once (so
 * re-logins race) with an idle pause between steps, drawn for everyone at once so that the
 * session really idles (a short session timeout then expires). Every step checks what it reads
 * back. A restart happens between rounds, on the same port; the next calls must recover alone.
 */
export async function runLifecycleCycles(options: CycleOptions): Promise<CycleReport> {
  const { rig, provider } = options;
  const random = seededRandom(options.seed);
  const report: CycleReport = {
    cycles: 0,
    operations: 0,
    failures: [],
    restarts: 0,
    timings: { provision: [], describe: [], label: [], destroy: [] },
  };
  const started = Date.now();
  const deadline = started + options.durationMs;
  const restartTimes = (options.restartAt ?? []).map((f) => started + f * options.durationMs);

  const op = async <T>(
    kind: keyof CycleReport['timings'],
    what: string,
    fn: () => Promise<T>,
  ): Promise<T | undefined> => {
    report.operations += 1;
    const t0 = performance.now();
    try {
      const value = await fn();
      report.timings[kind].push(performance.now() - t0);
      return value;
    } catch (error) {
      report.failures.push(`${what}: ${describeError(error)}`);
      return undefined;
    }
  };
  const pause = () => sleep(Math.floor(random() * options.maxPauseMs));
  const workers = Array.from({ length: options.workers }, (_, index) => {
    const group = `cycles-${index}`;
    return { group, tags: groupTags(group), id: undefined as string | undefined };
  });
  const each = (fn: (w: (typeof workers)[number]) => Promise<unknown>) =>
    Promise.all(workers.filter((w) => w.id !== undefined).map(fn));

  let round = 0;
  while (Date.now() < deadline) {
    if (restartTimes.length > 0 && Date.now() >= restartTimes[0]!) {
      restartTimes.shift();
      await rig.sim.restart();
      report.restarts += 1;
      options.progress?.(`vcsim restarted after ${Math.round((Date.now() - started) / 1000)} s`);
    }
    round += 1;
    const label = String(round);
    await Promise.all(
      workers.map(async (w) => {
        w.id = await op('provision', `provision (${w.group})`, () =>
          provider.provision({ Tags: w.tags, Properties: cloneProps }),
        );
      }),
    );
    await pause();
    await each((w) =>
      op('describe', `describe after provision of ${w.id}`, async () => {
        const found = await provider.describe(w.tags);
        if (!found.some((d) => d.ID === w.id)) throw new Error(`${w.id} missing from describe`);
      }),
    );
    await pause();
    await each(async (w) => {
      await op('label', `label ${w.id}`, () => provider.label(w.id!, { round: label }));
      await op('describe', `describe after label of ${w.id}`, async () => {
        const found = await provider.describe({ ...w.tags, round: label });
        if (found.length !== 1 || found[0]?.ID !== w.id) throw new Error(`label of ${w.id} not described`);
      });
    });
    await pause();
    await each(async (w) => {
      await op('destroy', `destroy ${w.id}`, () => provider.destroy(w.id!, { Reason: 'terminate' }));
      await op('describe', `describe after destroy of ${w.id}`, async () => {
        const found = await provider.describe(w.tags);
        if (found.some((d) => d.ID === w.id)) throw new Error(`${w.id} still described after destroy`);
      });
      report.cycles += 1;
    });
    if (round % 5 === 0) {
      options.progress?.(
        `${Math.round((Date.now() - started) / 1000)} s: ${report.cycles} cycles, ${report.operations} operations, ${report.failures.length} failed, ${provider.client.session.stats.relogins} re-logins, ${report.restarts} restarts`,
      );
    }
    await pause();
  }
  return report;
}

/** p50 / p95 / max of a list of durations, rounded, for reports. */
export function percentiles(values: number[]): { n: number; p50: number; p95: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), max: Math.round(sorted.at(-1) ?? 0) };
}

/** Reports a failed call of a storm: `what` is `provision`, `label` or `destroy`. */
export type StormNote = (
  what: 'provision' | 'label' | 'destroy',
  id: string | undefined,
  error: unknown,
) => void;

export interface StormOptions {
  rig: Rig;
  provider: VSphereInstanceProvider;
  tags: Record<string, string>;
  /** Provisions in all, made `batch` at a time. */
  provisions: number;
  batch: number;
  /** Labels put on every instance made. */
  labels: Record<string, string>;
  /** Seeds the proxy's choice of calls to fault. */
  seed: number;
  note: StormNote;
}

/**
 * The seeded fault storm: with latency on every call and 3 % each of resets, 503s, answers
 * dropped after vCenter acted and truncated bodies, provisions in batches then labels each
 * instance made. Returns the instances provision returned and the faults injected meanwhile;
 * the rules are cleared at the end.
 */
export async function provisionAndLabelInStorm(
  o: StormOptions,
): Promise<{ ids: string[]; injected: number }> {
  o.rig.proxy.reseed(o.seed);
  o.rig.proxy.setRules([
    { fault: { kind: 'latency', ms: 3, jitterMs: 3 } },
    { rate: 0.03, fault: { kind: 'reset' } },
    { rate: 0.03, fault: { kind: 'status', status: 503 } },
    { rate: 0.03, fault: { kind: 'drop' } },
    { rate: 0.03, fault: { kind: 'truncate' } },
  ]);
  const faultsBefore = o.rig.proxy.totals.faults;
  const ids: string[] = [];
  for (let done = 0; done < o.provisions; done += o.batch) {
    const outcomes = await Promise.all(
      Array.from({ length: Math.min(o.batch, o.provisions - done) }, () =>
        settle(o.provider.provision({ Tags: o.tags, Properties: cloneProps })),
      ),
    );
    for (const outcome of outcomes) {
      if (outcome.ok) ids.push(outcome.value);
      else o.note('provision', undefined, outcome.error);
    }
  }
  for (const id of ids) {
    const outcome = await settle(o.provider.label(id, o.labels));
    if (!outcome.ok) o.note('label', id, outcome.error);
  }
  const injected = o.rig.proxy.totals.faults - faultsBefore;
  o.rig.proxy.setRules([]);
  return { ids, injected };
}

/**
 * Destroys `ids`, `concurrency` at a time, while 5 % of calls are reset and 5 % of answers
 * dropped, retrying each as a group controller would (at most `attempts` tries); the rules are
 * cleared at the end.
 */
export async function destroyInStorm(o: {
  rig: Rig;
  provider: VSphereInstanceProvider;
  ids: string[];
  concurrency: number;
  attempts: number;
  note: StormNote;
}): Promise<void> {
  o.rig.proxy.setRules([
    { rate: 0.05, fault: { kind: 'reset' } },
    { rate: 0.05, fault: { kind: 'drop' } },
  ]);
  for (let i = 0; i < o.ids.length; i += o.concurrency) {
    await Promise.all(
      o.ids.slice(i, i + o.concurrency).map(async (id) => {
        for (let attempt = 1; ; attempt++) {
          const outcome = await settle(o.provider.destroy(id));
          if (outcome.ok) return;
          // A retry after a lost answer finds the VM gone: the earlier attempt did destroy it
          // (the leak check at the end of each scenario says so).
          if (attempt > 1 && outcome.error instanceof NotFoundError && outcome.error.kind === 'vm') return;
          o.note('destroy', id, outcome.error);
          assert.ok(attempt < o.attempts, `destroy ${id} failed ${attempt} times`);
        }
      }),
    );
  }
  o.rig.proxy.setRules([]);
}

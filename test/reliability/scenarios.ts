/**
 * Long-running scenarios shared by the CI tests (short) and `npm run soak` (long): the same code
 * with a different duration or count, so what CI checks is what the soak run stresses.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { NotFoundError, VSphereError, type VSphereInstanceProvider } from '../../src/index.ts';
import { call } from '../plugin/rpc-client.ts';
import { makeCertificate } from './certs.ts';
import {
  cloneProps,
  describeError,
  groupTags,
  liveSessions,
  type Outcome,
  PASSWORD,
  PROVIDER_USER,
  type Rig,
  settle,
  sleep,
  startRig,
} from './harness.ts';
import { seededRandom } from './rng.ts';
import type { SecretWatch } from './secrets.ts';
import { type Served, servedChildren, startServe } from './serve-process.ts';

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

/** The faults of the chaos run. */
export type ChaosFault = 'crash' | 'stall' | 'sigterm';

/** How the chaos run starts `serve` (a child process on its own plugins dir each time). */
export interface ChaosServe {
  /** A fresh plugins dir for the `n`-th serve. */
  dir(n: number): string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** The vCenter user serve logs in as (its sessions are counted apart from the library's). */
  user: string;
}

export interface ChaosOptions {
  rig: Rig;
  /** The library under test: every SOAP call of it has a `timeoutMs`. */
  provider: VSphereInstanceProvider;
  serve: ChaosServe;
  /** Faults injected, one after the other, each at a random point of the running operations. */
  faults: number;
  /** Library workers and JSON-RPC workers, each on a group of its own. */
  workers: number;
  rpcWorkers: number;
  seed: number;
  /** A library operation, or a JSON-RPC call, that has not settled after this long has hung. */
  settleBoundMs: number;
  /** serve must exit this long after SIGTERM at most. */
  exitBoundMs: number;
  progress?: (line: string) => void;
}

/** One operation of the chaos run. */
export interface ChaosOp {
  via: 'library' | 'rpc';
  kind: 'provision' | 'describe' | 'destroy';
  /** The instance made or destroyed, if any. */
  id?: string;
  /** When it ended, ms from the start of the run. */
  at: number;
  ms: number;
  /** `ok`, a typed error code, `UNTYPED ...`, `unavailable` (no serve listening), `hung`. */
  outcome: string;
}

export interface ChaosReport {
  seed: number;
  faults: Record<ChaosFault, number>;
  ops: ChaosOp[];
  /** Per outage (crash or stall): when (ms from the start), the busiest second's requests at the proxy. */
  outages: { fault: 'crash' | 'stall'; at: number; ms: number; peakPerSecond: number; requests: number }[];
  /** Per SIGTERM: when (ms from the start). */
  sigterms: number[];
  /** Per crash: ms from vCenter answering again to the first successful describe. */
  recoveryMs: number[];
  /** Per SIGTERM: ms to exit, the exit code, serve sessions left on vCenter after it. */
  exits: { ms: number; code: number | null; sessionsLeft: number }[];
  /** Instance IDs provision returned (library: built; rpc: answered, built after). */
  returned: { library: string[]; rpc: string[] };
  /** IDs a destroy reported done. */
  destroyed: string[];
  /** VMs that existed when vCenter crashed: the restarted vcsim no longer has them. */
  wiped: string[];
  /** IDs a destroy was tried for (done or not). */
  destroyTried: string[];
  /** The groups of the run. */
  groups: string[];
  /** Everything serve printed, all runs. */
  serveOutput: string;
  /** The longest the test process's event loop was blocked, ms (a spinning library shows here). */
  maxLoopDelayMs: number;
}

/**
 * The chaos run: library workers provision, describe and destroy through the fault proxy, and
 * JSON-RPC workers do the same through a `serve` child process, while faults land one after the
 * other at random points of what runs: vCenter crashes (SIGKILL, back on the same port; vcsim
 * forgets what it had), vCenter stalls (every request held unanswered, then all answered), and
 * SIGTERM to `serve` (then a new one). Everything random is drawn from
 * `seed`. Returns what happened; the caller checks it against vCenter's inventory and sessions.
 */
export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const { rig, provider } = o;
  const random = seededRandom(o.seed);
  const report: ChaosReport = {
    seed: o.seed,
    faults: { crash: 0, stall: 0, sigterm: 0 },
    ops: [],
    outages: [],
    sigterms: [],
    recoveryMs: [],
    exits: [],
    returned: { library: [], rpc: [] },
    destroyed: [],
    wiped: [],
    destroyTried: [],
    groups: [],
    serveOutput: '',
    maxLoopDelayMs: 0,
  };
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();
  let stopping = false;
  let serveCount = 0;
  const startNextServe = async (): Promise<Served> => {
    serveCount += 1;
    return startServe(o.serve.dir(serveCount), o.serve.args, o.serve.env);
  };
  let served: Served | undefined = await startNextServe();

  const runStart = performance.now();
  const epoch = Date.now();
  const record = (op: Omit<ChaosOp, 'ms' | 'at'>, started: number) =>
    report.ops.push({
      ...op,
      ms: Math.round(performance.now() - started),
      at: Math.round(performance.now() - runStart),
    });
  /** `work`, or `hung` once the bound has passed (the call is left running: it is a failure). */
  const bounded = <T>(work: Promise<T>): Promise<Outcome<T> | 'hung'> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve('hung'), o.settleBoundMs);
      void settle(work).then((outcome) => {
        clearTimeout(timer);
        resolve(outcome);
      });
    });
  const code = (error: unknown): string =>
    error instanceof VSphereError ? error.code : `UNTYPED ${describeError(error)}`;

  const outcomeOf = (outcome: Outcome<unknown> | 'hung'): string =>
    outcome === 'hung' ? 'hung' : outcome.ok ? 'ok' : code(outcome.error);

  const libraryWorker = async (index: number) => {
    const rng = seededRandom(o.seed + 1 + index);
    const group = `chaos-lib-${index}`;
    report.groups.push(group);
    const tags = groupTags(group);
    const live: string[] = [];
    while (!stopping) {
      const r = rng();
      const kind = live.length === 0 || r < 0.4 ? 'provision' : r < 0.7 ? 'describe' : 'destroy';
      const started = performance.now();
      if (kind === 'provision') {
        const outcome = await bounded(provider.provision({ Tags: tags, Properties: cloneProps }));
        const made = outcome !== 'hung' && outcome.ok ? outcome.value : undefined;
        if (made !== undefined) {
          live.push(made);
          report.returned.library.push(made);
        }
        record({ via: 'library', kind, ...(made ? { id: made } : {}), outcome: outcomeOf(outcome) }, started);
      } else if (kind === 'describe') {
        const outcome = await bounded(provider.describe(tags));
        record({ via: 'library', kind, outcome: outcomeOf(outcome) }, started);
      } else {
        const id = live[Math.floor(rng() * live.length)]!;
        report.destroyTried.push(id);
        const outcome = await bounded(provider.destroy(id, { Reason: 'terminate' }));
        if (outcome !== 'hung' && outcome.ok) {
          live.splice(live.indexOf(id), 1);
          report.destroyed.push(id);
        }
        record({ via: 'library', kind, id, outcome: outcomeOf(outcome) }, started);
      }
      await sleep(50 + Math.floor(rng() * 250));
    }
  };

  const rpcWorker = async (index: number) => {
    const rng = seededRandom(o.seed + 101 + index);
    const group = `chaos-rpc-${index}`;
    report.groups.push(group);
    const tags = groupTags(group);
    const live: string[] = [];
    while (!stopping) {
      const target = served;
      if (target === undefined) {
        await sleep(50);
        continue;
      }
      const r = rng();
      const kind = live.length === 0 || r < 0.4 ? 'provision' : r < 0.7 ? 'describe' : 'destroy';
      const id = kind === 'destroy' ? live[Math.floor(rng() * live.length)]! : undefined;
      const [method, params] =
        kind === 'provision'
          ? [
              'Instance.Provision',
              { Type: '', Spec: { Tags: tags, Properties: { Template: cloneProps.Template } } },
            ]
          : kind === 'describe'
            ? ['Instance.DescribeInstances', { Type: '', Tags: tags, Properties: false }]
            : ['Instance.Destroy', { Type: '', Instance: id, Context: { Reason: 'terminate' } }];
      if (id !== undefined) report.destroyTried.push(id);
      const started = performance.now();
      const outcome = await bounded(call({ socketPath: target.socketPath }, method, params));
      let result: string;
      let made: string | undefined;
      if (outcome === 'hung') result = 'hung';
      else if (!outcome.ok) {
        // No serve listening (it is stopping, or the next one is starting): the plugin is
        // unavailable, as InfraKit sees a restarting plugin; not a failure of a call.
        const errno = (outcome.error as NodeJS.ErrnoException).code;
        result =
          errno === 'ENOENT' || errno === 'ECONNREFUSED' ? 'unavailable' : `UNTYPED ${String(outcome.error)}`;
      } else if (outcome.value.reply.error) {
        result = `rpc ${outcome.value.reply.error.code}`;
      } else {
        result = 'ok';
        if (kind === 'provision') {
          made = (outcome.value.reply.result as { ID: string }).ID;
          live.push(made);
          report.returned.rpc.push(made);
        } else if (kind === 'destroy') {
          live.splice(live.indexOf(id!), 1);
          report.destroyed.push(id!);
        }
      }
      const which = id ?? made;
      record({ via: 'rpc', kind, ...(which === undefined ? {} : { id: which }), outcome: result }, started);
      await sleep(50 + Math.floor(rng() * 250));
    }
  };

  const stopServe = async (): Promise<void> => {
    const current = served!;
    served = undefined;
    const signalled = performance.now();
    report.sigterms.push(Math.round(signalled - runStart));
    current.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      current.exited,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), o.exitBoundMs);
      }),
    ]);
    clearTimeout(timer);
    const ms = Math.round(performance.now() - signalled);
    if (exit === undefined) current.child.kill('SIGKILL');
    report.serveOutput += current.output();
    report.exits.push({
      ms,
      code: exit === undefined ? null : exit.code,
      sessionsLeft: await liveSessions(rig.admin, o.serve.user),
    });
  };

  /** Repeats a describe until one succeeds: the time vCenter's clients need to be back. */
  const recovery = async (): Promise<number> => {
    const from = performance.now();
    for (;;) {
      const outcome = await settle(provider.describe(groupTags('chaos-probe')));
      if (outcome.ok) return Math.round(performance.now() - from);
      if (performance.now() - from > o.settleBoundMs) return Number.POSITIVE_INFINITY;
      await sleep(50);
    }
  };

  const outage = (fault: 'crash' | 'stall', from: number) => {
    const to = Date.now();
    const perSecond = rig.proxy.requestsPerSecond(from, to);
    report.outages.push({
      fault,
      at: from - epoch,
      ms: to - from,
      peakPerSecond: Math.max(...perSecond),
      requests: perSecond.reduce((a, b) => a + b, 0),
    });
  };

  const workers = [
    ...Array.from({ length: o.workers }, (_, i) => libraryWorker(i)),
    ...Array.from({ length: o.rpcWorkers }, (_, i) => rpcWorker(i)),
  ];
  // Each kind once in every three faults, in a seeded order: a short run still has all of them.
  const kinds: ChaosFault[] = ['crash', 'stall', 'sigterm'];
  const schedule: ChaosFault[] = [];
  while (schedule.length < o.faults) schedule.push(...[...kinds].sort(() => random() - 0.5));
  schedule.length = o.faults;

  try {
    for (const [i, fault] of schedule.entries()) {
      // A random point of whatever the workers are doing.
      await sleep(300 + Math.floor(random() * 1200));
      report.faults[fault] += 1;
      if (fault === 'crash') {
        const from = Date.now();
        // The proxy refuses every new request and cuts every open one: from here on nothing
        // vCenter does reaches a client, as when it crashes. What exists now is what the crash
        // wipes (vcsim comes back with its initial inventory; a real vCenter would keep it).
        rig.proxy.setRules([{ fault: { kind: 'reset' } }]);
        rig.proxy.cutAll();
        const wiped = await rig.sim.snapshotVms((vm) => /^vm-\d+$/.test(vm.name));
        report.wiped.push(...wiped.map((vm) => vm.name));
        await rig.sim.crash();
        await sleep(Math.floor(random() * 1000));
        rig.proxy.setRules([]);
        outage('crash', from);
        report.recoveryMs.push(await recovery());
        o.progress?.(`fault ${i + 1}: vCenter crashed and restarted (${wiped.length} VMs wiped)`);
      } else if (fault === 'stall') {
        // vCenter stops answering (every request held, long polls included) for 1–6 s, then
        // answers all it holds: a call whose deadline (4 s) passed meanwhile has failed; the
        // rest go on.
        const from = Date.now();
        rig.proxy.freeze();
        await sleep(1000 + Math.floor(random() * 5000));
        rig.proxy.thaw();
        outage('stall', from);
        o.progress?.(`fault ${i + 1}: vCenter stalled ${Date.now() - from} ms`);
      } else {
        await stopServe();
        const exit = report.exits.at(-1)!;
        o.progress?.(`fault ${i + 1}: SIGTERM to serve: exit ${exit.code} after ${exit.ms} ms`);
        served = await startNextServe();
      }
    }
    await sleep(500);
  } finally {
    rig.proxy.setRules([]);
    rig.proxy.thaw();
    stopping = true;
    await Promise.all(workers);
    if (served) await stopServe();
    loopDelay.disable();
    report.maxLoopDelayMs = Math.round(loopDelay.max / 1e6);
  }
  return report;
}

/** What is left in vCenter after a chaos run, read straight from vcsim (not by the library). */
export interface ChaosInventory {
  /** Instance-named VMs in vCenter at the end. */
  vms: number;
  /** VMs without valid notes of one of the run's groups, or outside that group's folder. */
  unowned: string[];
  /** IDs a destroy reported done that still exist. */
  resurrected: string[];
  /**
   * IDs provision returned, never destroyed, that are gone (serve's: with no failure reported),
   * other than those a crash wiped.
   */
  lost: string[];
  /** Instance VMs a crash wiped. */
  wiped: number;
  /** IDs serve answered for whose build then failed, reported on its log (and gone). */
  buildFailed: string[];
  /** IDs serve answered a destroy of whose work then failed, reported on its log (still owned). */
  destroyFailed: string[];
  /**
   * VMs without notes in their group's folder that vCenter cloned after the provision had given
   * up on them: the clone call's answer was lost (a stall held it past its timeout), the look-up
   * by name found nothing, the provision failed, and only then did the held call reach vCenter.
   * vcsim drops the notes a clone spec carries; vCenter applies them, so there the VM is an
   * instance that describe lists and the group scales away.
   */
  lateClones: string[];
}

/**
 * Reads every instance-named VM of vCenter with the harness's own SOAP session and checks it
 * against what the run was told: each VM carries the notes of a group of the run (line 0 the
 * group, line 1 its config hash) in that group's folder, or is not there because it was
 * destroyed.
 */
export async function chaosInventory(
  rig: Rig,
  report: ChaosReport,
  logged: (needle: string) => string[],
): Promise<ChaosInventory> {
  const vms = await rig.sim.snapshotVms((vm) => /^vm-\d+$/.test(vm.name));
  const names = new Set(vms.map((vm) => vm.name));
  const groups = new Set(report.groups);
  const serveLines = report.serveOutput.split('\n');
  const said = (name: string) => [...serveLines.filter((line) => line.includes(name)), ...logged(name)];
  const notOwned = vms.filter((vm) => {
    const [group, hash] = (vm.annotation ?? '').split('\n');
    return !(group !== undefined && groups.has(group) && hash === 'hash-1' && vm.folder === group);
  });
  const lateClones = notOwned
    .filter((vm) => {
      if ((vm.annotation ?? '') !== '' || vm.folder === undefined || !groups.has(vm.folder)) return false;
      const lines = said(vm.name);
      // Debug lines are captured unformatted (`%s` and the arguments), serve's formatted.
      return (
        lines.some((line) => line.includes('the answer to') && line.includes('was lost')) &&
        lines.some((line) => line.includes('provision of') && line.includes(' failed'))
      );
    })
    .map((vm) => vm.name);
  const unowned = notOwned
    .filter((vm) => !lateClones.includes(vm.name))
    .map((vm) => `${vm.name} (folder ${vm.folder}, notes ${JSON.stringify(vm.annotation)})`);
  const tried = new Set(report.destroyTried);
  // serve answers a destroy still running after a moment (InfraKit's client would time out), or
  // of an instance still being made (destroyed once made), and reports a failure after that on
  // its log; the instance is still there, still an instance, and the next destroy removes it.
  const destroyFailed = report.destroyed.filter(
    (id) =>
      names.has(id) &&
      serveLines.some((line) => line.includes(`estroy of ${id} `) && line.includes(' failed')),
  );
  const resurrected = report.destroyed.filter((id) => names.has(id) && !destroyFailed.includes(id));
  const wiped = new Set(report.wiped);
  const missing = (ids: string[]) => ids.filter((id) => !tried.has(id) && !names.has(id) && !wiped.has(id));
  const rpcMissing = missing(report.returned.rpc);
  const buildFailed = rpcMissing.filter((id) => report.serveOutput.includes(`of ${id} `));
  return {
    vms: vms.length,
    unowned,
    resurrected,
    lost: [...missing(report.returned.library), ...rpcMissing.filter((id) => !buildFailed.includes(id))],
    buildFailed,
    destroyFailed,
    wiped: wiped.size,
    lateClones,
  };
}

/** What the chaos files set up: a rig behind an HTTPS proxy, a temporary root for plugins dirs. */
export interface ChaosSetup {
  rig: Rig;
  root: string;
  watch: SecretWatch;
  /** Kills any `serve` a failed run left, stops vcsim and the proxy, removes the root. */
  close(): Promise<void>;
}

/** Starts what {@link chaosRun} needs; `watch` should capture debug lines from the file's start. */
export async function startChaos(watch: SecretWatch): Promise<ChaosSetup> {
  const rig = await startRig({ proxyTls: makeCertificate() });
  watch.cookiesFrom(rig.proxy);
  const root = await mkdtemp(join(tmpdir(), 'ikv-chaos-'));
  return {
    rig,
    root,
    watch,
    async close() {
      for (const child of servedChildren) child.kill('SIGKILL');
      await rig.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** The vCenter user of the chaos run's `serve` processes. */
export const CHAOS_SERVE_USER = 'chaos-serve';
/** Each SOAP call's timeout in the chaos run, the library's and serve's (`--timeout`). */
export const CHAOS_CALL_TIMEOUT_MS = 4000;
/**
 * A call not settled after this long has hung. Every call of the run has a 4 s timeout and
 * vCenter answers again within 6 s of any fault, so a call needs a few timeouts in a row at
 * most: the slowest measured took under 10 s. (A long poll held by a vCenter that never answers
 * again is given up only after maxWaitSeconds + 30 s; the stalls here end.)
 */
export const CHAOS_SETTLE_BOUND_MS = 45_000;
/**
 * Requests per second at the proxy while vCenter is away, at most. A read that meets a dead
 * vCenter is sent at most 4 times (3 retries after 100–200, 200–400 and 400–800 ms of backoff),
 * a write once; a login is a version GET and a service content read (reads) and a Login (a
 * write). An operation in flight thus sends about 9 requests in its worst second, and a worker
 * pauses 50–300 ms after a failed one. In flight at once: the library workers' operations; the
 * builds and destroys serve goes on with after answering (a JSON-RPC worker can start about 3 in
 * a second, each answered within milliseconds), plus its JSON-RPC call itself; both task
 * waiters; the recovery probe. Hence 9 × (workers + 4 × rpcWorkers + 3): an order of magnitude
 * below a library that spins (the task waiter once sent about 1,000 calls a second after a
 * restart), about twice the busiest second measured.
 */
export function chaosRateCeiling(workers: number, rpcWorkers: number): number {
  return 9 * (workers + 4 * rpcWorkers + 3);
}

/**
 * The chaos run as CI and the soak run it: a provider and `serve` processes against `rig`
 * (which must have `proxyTls`), `faults` faults, then every check, with the figures printed.
 */
export async function chaosRun(o: {
  rig: Rig;
  root: string;
  watch: SecretWatch;
  faults: number;
  seed: number;
  log: (line: string) => void;
  workers?: number;
  rpcWorkers?: number;
}): Promise<void> {
  const { rig, watch } = o;
  const workers = o.workers ?? 3;
  const rpcWorkers = o.rpcWorkers ?? 2;
  // The seed first, so that a run that hangs or dies can still be replayed.
  console.log(
    `chaos: seed ${o.seed}, ${o.faults} faults (replay: RELIABILITY_SEED=${o.seed} RELIABILITY_CHAOS_FAULTS=${o.faults} node --test test/integration/reliability-chaos.test.ts)`,
  );
  rig.proxy.watchSecret(PASSWORD);
  const provider = rig.provider({ timeoutMs: CHAOS_CALL_TIMEOUT_MS });
  const url = new URL(rig.proxy.sdkUrl);
  url.username = CHAOS_SERVE_USER;
  const thumbprint = rig.proxyThumbprint;
  assert.ok(thumbprint, 'the rig serves HTTPS and pins its certificate');
  const started = performance.now();
  const report = await runChaos({
    rig,
    provider,
    serve: {
      dir: (n) => join(o.root, `serve-${n}`),
      args: [
        'serve',
        '--url',
        url.toString(),
        '--thumbprint',
        thumbprint,
        '--datacenter',
        'DC0',
        '--datastore',
        'LocalDS_0',
        '--hostname',
        'DC0_H0',
        '--timeout',
        `${CHAOS_CALL_TIMEOUT_MS}ms`,
      ],
      // Every debug line of serve too, for the secret check.
      env: { VCPASSWORD: PASSWORD, DEBUG: 'infrakit:*' },
      user: CHAOS_SERVE_USER,
    },
    faults: o.faults,
    workers,
    rpcWorkers,
    seed: o.seed,
    settleBoundMs: CHAOS_SETTLE_BOUND_MS,
    exitBoundMs: 30_000,
    progress: o.log,
  });
  const runMs = Math.round(performance.now() - started);
  watch.text('serve output', report.serveOutput);
  watch.object('provider after the chaos', provider);
  await provider.close();
  const inventory = await chaosInventory(rig, report, (needle) => watch.linesWith(needle));
  const librarySessions = await liveSessions(rig.admin, PROVIDER_USER);
  const serveSessions = await liveSessions(rig.admin, CHAOS_SERVE_USER);

  // Figures, printed for docs/reliability.md.
  const by = (via: ChaosOp['via'], kind: ChaosOp['kind']) =>
    percentiles(report.ops.filter((op) => op.via === via && op.kind === kind).map((op) => op.ms));
  const outcomes = new Map<string, number>();
  for (const op of report.ops) {
    const key = `${op.via} ${op.kind} ${op.outcome}`;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  }
  const peak = (fault: 'crash' | 'stall') =>
    Math.max(0, ...report.outages.filter((x) => x.fault === fault).map((x) => x.peakPerSecond));
  const ceiling = chaosRateCeiling(workers, rpcWorkers);
  const lines = [
    `chaos: seed ${report.seed}, ${o.faults} faults (${report.faults.crash} crashes, ${report.faults.stall} stalls, ${report.faults.sigterm} SIGTERMs) in ${Math.round(runMs / 1000)} s, ${report.ops.length} operations`,
    `chaos: settle after a vCenter restart (first describe that succeeds): ${report.recoveryMs.join(', ')} ms`,
    `chaos: requests per second during outages, busiest second: crash ${peak('crash')}, stall ${peak('stall')} (ceiling ${ceiling}); per outage ${report.outages.map((x) => `${x.fault} ${x.ms} ms: ${x.requests} requests, peak ${x.peakPerSecond}/s`).join('; ')}`,
    `chaos: slowest settle ${Math.max(0, ...report.ops.map((op) => op.ms))} ms (bound ${CHAOS_SETTLE_BOUND_MS}); library provision ${JSON.stringify(by('library', 'provision'))}, describe ${JSON.stringify(by('library', 'describe'))}, destroy ${JSON.stringify(by('library', 'destroy'))}; rpc provision ${JSON.stringify(by('rpc', 'provision'))}, describe ${JSON.stringify(by('rpc', 'describe'))}, destroy ${JSON.stringify(by('rpc', 'destroy'))} ms`,
    `chaos: longest event-loop delay of the test process ${report.maxLoopDelayMs} ms, RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`,
    `chaos: serve exits after SIGTERM: ${report.exits.map((x) => `${x.ms} ms (exit ${x.code})`).join(', ')}`,
    `chaos: sessions left: library ${librarySessions}, serve ${serveSessions} (after each serve exit: ${report.exits.map((x) => x.sessionsLeft).join(', ')})`,
    `chaos: VMs: ${report.returned.library.length} provisioned by the library, ${report.returned.rpc.length} answered by serve, ${report.destroyed.length} destroyed; ${inventory.wiped} wiped by crashes, ${inventory.vms} left in vCenter, ${inventory.unowned.length} unowned, ${inventory.lateClones.length} cloned after their provision gave up (no notes on vcsim only), ${inventory.lost.length} lost, ${inventory.resurrected.length} back after destroy, ${inventory.buildFailed.length} serve builds and ${inventory.destroyFailed.length} serve destroys failed after the answer (reported)`,
    `chaos: outcomes ${JSON.stringify(Object.fromEntries([...outcomes].sort()))}`,
    `chaos: password on the wire: ${JSON.stringify(Object.fromEntries(rig.proxy.secretSightings))}; ${watch.debugLines} debug lines checked`,
  ];
  for (const line of lines) console.log(line);
  if (process.env.CHAOS_LOG) {
    // Everything needed to explain a failure: the library's debug lines, serve's log, each
    // operation and each fault, with times.
    writeFileSync(
      process.env.CHAOS_LOG,
      `${watch.linesWith('').join('\n')}\n---serve---\n${report.serveOutput}\n---ops---\n${report.ops.map((op) => JSON.stringify(op)).join('\n')}\n---faults---\n${JSON.stringify(report.outages)}\n${JSON.stringify(report.sigterms)}\n`,
    );
  }
  const suspects = [...inventory.unowned, ...inventory.lost, ...inventory.resurrected].map(
    (x) => x.split(' ')[0]!,
  );
  if (suspects.length > 0) {
    console.log(
      `chaos: faults at ${[
        ...report.outages.map((x) => `${x.fault} ${x.at}+${x.ms} ms`),
        ...report.sigterms.map((at) => `sigterm ${at} ms`),
      ].join(', ')}`,
    );
    for (const id of suspects) {
      const ops = report.ops.filter((op) => op.id === id);
      const said = report.serveOutput
        .split('\n')
        .filter((line) => line.includes(id) && !line.includes('soapenv'));
      const logged = watch.linesWith(id).filter((line) => !line.includes('soapenv'));
      console.log(`chaos: ${id}: ${JSON.stringify(ops)}\n  ${[...said, ...logged].join('\n  ')}`);
    }
  }

  const replay = `(replay: RELIABILITY_SEED=${report.seed})`;
  assert.equal(report.faults.crash + report.faults.stall + report.faults.sigterm, o.faults);
  assert.deepEqual(
    report.ops.filter((op) => op.outcome === 'hung' || op.ms >= CHAOS_SETTLE_BOUND_MS),
    [],
    `every call settled within ${CHAOS_SETTLE_BOUND_MS} ms ${replay}`,
  );
  assert.deepEqual(
    report.ops.filter((op) => op.outcome.startsWith('UNTYPED')),
    [],
    `every failure is typed ${replay}`,
  );
  for (const via of ['library', 'rpc'] as const) {
    assert.ok(
      report.ops.some((op) => op.via === via && op.outcome === 'ok'),
      `${via} calls went through between the faults`,
    );
  }
  for (const x of report.outages) {
    assert.ok(
      x.peakPerSecond <= ceiling,
      `${x.peakPerSecond} requests in one second of a ${x.fault} ${replay}`,
    );
  }
  assert.ok(
    report.recoveryMs.every((ms) => ms < CHAOS_SETTLE_BOUND_MS),
    `recovered after each restart: ${report.recoveryMs.join(', ')} ms ${replay}`,
  );
  for (const exit of report.exits) {
    assert.equal(exit.code, 0, `serve exited 0 after SIGTERM ${replay}\n${report.serveOutput}`);
    assert.equal(exit.sessionsLeft, 0, `serve left no session ${replay}`);
  }
  // Nothing in the test process (library, proxy, harness) may hold the event loop for long: a
  // busy 2-core machine delays it by tens of milliseconds, a spinning retry loop by seconds.
  assert.ok(
    report.maxLoopDelayMs < 10_000,
    `the event loop was blocked ${report.maxLoopDelayMs} ms ${replay}`,
  );
  assert.deepEqual(inventory.unowned, [], `every VM is an instance of its group ${replay}`);
  assert.deepEqual(inventory.lost, [], `no VM lost ${replay}`);
  assert.deepEqual(inventory.resurrected, [], `no destroyed VM came back ${replay}`);
  assert.equal(librarySessions, 0, 'the provider left no session');
  assert.equal(serveSessions, 0, 'serve left no session');
  assert.deepEqual([...rig.proxy.secretSightings.keys()], ['Login'], 'the password went only into Login');
  assert.deepEqual(watch.leaks(), []);
}

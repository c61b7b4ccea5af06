/**
 * A vCenter that accepts connections but never answers (a stall), behind the fault proxy. A call's
 * timeoutMs bounds it end to end (pool wait, connect, the answer, every retry and backoff, the
 * login and version negotiation it had to do first); a request that timed out or was aborted
 * destroys its socket, so once vCenter answers again the next call goes through at once; the CLI's
 * --timeout bounds a whole command. Bounds are generous: the machine is slow and shared.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { VSphereClient } from '../../src/blocks.ts';
import { ExitCode } from '../../src/cli/output.ts';
import { AbortError, ManagedObjectReference, TimeoutError } from '../../src/index.ts';
import type { FaultRule } from '../reliability/fault-proxy.ts';
import {
  describeError,
  groupTags,
  PASSWORD,
  PROVIDER_USER,
  type Rig,
  settle,
  sleep,
  startRig,
} from '../reliability/harness.ts';
import { SecretWatch } from '../reliability/secrets.ts';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const SERVICE_INSTANCE = new ManagedObjectReference('ServiceInstance', 'ServiceInstance');
const STALL_ALL: FaultRule = { fault: { kind: 'stall' } };
/** What a timeout may overrun by on this machine: timers, scheduling, a busy neighbour. */
const SLACK_MS = 3_000;

const watch = new SecretWatch().captureDebug().secret(PASSWORD);
let rig: Rig;
const clients: VSphereClient[] = [];

before(async () => {
  rig = await startRig();
  watch.cookiesFrom(rig.proxy);
});
after(async () => {
  rig?.proxy.setRules([]);
  await Promise.allSettled(clients.map((c) => c.close()));
  await rig?.close();
  assert.deepEqual(watch.leaks(), []);
});

function client(options: Partial<ConstructorParameters<typeof VSphereClient>[0]> = {}): VSphereClient {
  const made = new VSphereClient({
    url: rig.proxy.sdkUrl,
    username: PROVIDER_USER,
    password: PASSWORD,
    keepAliveMs: 0,
    ...options,
  });
  clients.push(made);
  return made;
}

const currentTime = (c: VSphereClient, options: { timeoutMs?: number; signal?: AbortSignal } = {}) =>
  c.session.invoke('CurrentTime', { _this: SERVICE_INSTANCE }, options);

async function timed<T>(work: Promise<T>) {
  const started = performance.now();
  const outcome = await settle(work);
  return { outcome, ms: Math.round(performance.now() - started) };
}

function assertTimeout(outcome: Awaited<ReturnType<typeof settle>>, method?: string, totalMs?: number): void {
  assert.equal(outcome.ok, false, 'the call should have failed');
  if (outcome.ok) return;
  watch.error('stalled call', outcome.error);
  assert.ok(outcome.error instanceof TimeoutError, describeError(outcome.error));
  if (method !== undefined) assert.match(outcome.error.message, new RegExp(`^${method}\\b`));
  if (totalMs !== undefined) assert.equal(outcome.error.timeoutMs, totalMs);
}

describe('a stalled vCenter: one deadline per call', () => {
  it('the first call of a fresh client (negotiation, service content, login) settles within its timeoutMs', async () => {
    rig.proxy.setRules([STALL_ALL]);
    const c = client({ timeoutMs: 1000 });
    const { outcome, ms } = await timed(currentTime(c));
    rig.proxy.setRules([]);
    console.log(`fresh client against a stall: settled in ${ms} ms`);
    assertTimeout(outcome, undefined, 1000);
    assert.ok(ms >= 900, `waited for the deadline (${ms} ms)`);
    assert.ok(ms < 1000 + SLACK_MS, `settled in ${ms} ms`);
  });

  it('a read with retries settles within its timeoutMs, naming the method and the total', async () => {
    const c = client({ timeoutMs: 1000 });
    await c.connect();
    rig.proxy.setRules([{ method: 'CurrentTime', fault: { kind: 'stall' } }]);
    const { outcome, ms } = await timed(currentTime(c));
    rig.proxy.setRules([]);
    console.log(`logged-in read against a stall: settled in ${ms} ms`);
    assertTimeout(outcome, 'CurrentTime', 1000);
    assert.ok(ms < 1000 + SLACK_MS, `settled in ${ms} ms`);
    assert.equal(rig.proxy.count('CurrentTime').faults.stall, 1, 'no retry was started without time for it');
  });

  it('a reset then a stall: the retry runs within what is left of the deadline', async () => {
    const c = client({ timeoutMs: 1500 });
    await c.connect();
    const before = rig.proxy.count('CurrentTime').requests;
    rig.proxy.setRules([
      { method: 'CurrentTime', times: 1, fault: { kind: 'reset' } },
      { method: 'CurrentTime', fault: { kind: 'stall' } },
    ]);
    const { outcome, ms } = await timed(currentTime(c));
    rig.proxy.setRules([]);
    assertTimeout(outcome, 'CurrentTime', 1500);
    assert.ok(ms < 1500 + SLACK_MS, `settled in ${ms} ms`);
    assert.equal(rig.proxy.count('CurrentTime').requests - before, 2, 'one retry, after the reset');
  });

  it('a per-call timeoutMs overrides the client default; the long poll keeps its own', async () => {
    const c = client({ timeoutMs: 60_000 });
    await c.connect();
    rig.proxy.setRules([{ method: 'CurrentTime', fault: { kind: 'stall' } }]);
    const { outcome, ms } = await timed(currentTime(c, { timeoutMs: 700 }));
    rig.proxy.setRules([]);
    assertTimeout(outcome, 'CurrentTime', 700);
    assert.ok(ms < 700 + SLACK_MS, `settled in ${ms} ms`);
    // The long poll sets its own, larger timeout: an answer slower than the client's timeoutMs is fine.
    const short = client({ timeoutMs: 1000, maxWaitSeconds: 2 });
    const { rootFolder } = await short.session.serviceContent();
    const folder = await short.session.invoke<ManagedObjectReference>('CreateFolder', {
      _this: rootFolder,
      name: 'stall-long-poll',
    });
    rig.proxy.setRules([{ method: 'WaitForUpdatesEx', fault: { kind: 'latency', ms: 1500 } }]);
    const task = await short.session.invoke<ManagedObjectReference>('Destroy_Task', { _this: folder });
    await short.tasks.wait(task, { timeoutMs: 20_000 });
    rig.proxy.setRules([]);
    assert.ok((rig.proxy.count('WaitForUpdatesEx').faults.latency ?? 0) >= 1);
  });

  it('an AbortSignal ends a stalled call at once with AbortError', async () => {
    const c = client({ timeoutMs: 30_000 });
    await c.connect();
    rig.proxy.setRules([{ method: 'CurrentTime', fault: { kind: 'stall' } }]);
    const { outcome, ms } = await timed(currentTime(c, { signal: AbortSignal.timeout(500) }));
    rig.proxy.setRules([]);
    assert.equal(outcome.ok, false);
    if (!outcome.ok) assert.ok(outcome.error instanceof AbortError, describeError(outcome.error));
    assert.ok(ms < 500 + SLACK_MS, `settled in ${ms} ms`);
    const next = await timed(currentTime(c));
    assert.ok(next.outcome.ok, next.outcome.ok ? '' : describeError(next.outcome.error));
    assert.ok(next.ms < 2000, `the next call took ${next.ms} ms`);
  });
});

describe('a stalled vCenter: the socket pool', () => {
  it('more concurrent calls than maxSockets all time out in bound; after the stall the next call goes through at once', async () => {
    const c = client({ timeoutMs: 1000, maxSockets: 2 });
    await c.connect();
    rig.proxy.setRules([{ method: 'CurrentTime', fault: { kind: 'stall' } }]);
    const started = performance.now();
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () =>
        settle(currentTime(c)).then((o) => ({ o, ms: performance.now() - started })),
      ),
    );
    const slowest = Math.round(Math.max(...outcomes.map((x) => x.ms)));
    for (const { o } of outcomes) assertTimeout(o, 'CurrentTime', 1000);
    console.log(`8 calls over 2 sockets against a stall: the slowest settled in ${slowest} ms`);
    assert.ok(slowest < 1000 + SLACK_MS, `the slowest settled in ${slowest} ms`);
    rig.proxy.setRules([]);
    const next = await timed(currentTime(c));
    console.log(`first call after the stall: ${next.ms} ms`);
    assert.ok(next.outcome.ok, next.outcome.ok ? '' : describeError(next.outcome.error));
    assert.ok(next.ms < 1000, `the first call after the stall took ${next.ms} ms`);
    const many = await timed(Promise.all(Array.from({ length: 8 }, () => currentTime(c))));
    assert.ok(many.outcome.ok, many.outcome.ok ? '' : describeError(many.outcome.error));
    assert.ok(many.ms < 2000, `8 calls after the stall took ${many.ms} ms`);
  });
});

describe('a stalled TLS handshake', () => {
  it('calls with a pinned thumbprint time out in bound and leave no connection behind', async () => {
    // Accepts TCP and never answers the ClientHello: a vCenter stalled below HTTP.
    const open = new Set<Socket>();
    const blackhole = createServer((socket) => {
      socket.resume();
      socket.on('error', () => undefined);
      open.add(socket);
      socket.on('close', () => open.delete(socket));
    });
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    const port = (blackhole.address() as AddressInfo).port;
    const c = client({
      url: `https://127.0.0.1:${port}/sdk`,
      timeoutMs: 1000,
      maxSockets: 2,
      apiVersion: '8.0',
      tls: { thumbprint: 'AB'.repeat(32) },
    });
    try {
      const started = performance.now();
      const outcomes = await Promise.all(Array.from({ length: 6 }, () => settle(c.session.serviceContent())));
      const ms = Math.round(performance.now() - started);
      for (const outcome of outcomes) assertTimeout(outcome, 'RetrieveServiceContent', 1000);
      assert.ok(ms < 1000 + SLACK_MS, `settled in ${ms} ms`);
      // A connection attempt is the agent's, not the request's: each must still end, soon after.
      const deadline = performance.now() + 1000 + SLACK_MS;
      while (open.size > 0 && performance.now() < deadline) await sleep(100);
      assert.equal(open.size, 0, 'no connection left to the stalled server');
    } finally {
      for (const socket of open) socket.destroy();
      await new Promise((resolve) => blackhole.close(resolve));
    }
  });
});

describe('a stalled vCenter: provider operations', () => {
  it('describe fails with TimeoutError within timeoutMs per call; its AbortSignal ends describe and destroy at once', async () => {
    const p = rig.provider({ timeoutMs: 1000 });
    await p.describe(groupTags('stall-describe'));
    rig.proxy.setRules([STALL_ALL]);
    const timedOut = await timed(p.describe(groupTags('stall-describe')));
    assertTimeout(timedOut.outcome, undefined, 1000);
    assert.ok(timedOut.ms < 1000 + SLACK_MS, `describe settled in ${timedOut.ms} ms`);
    // A group describe stalls in its inventory lookups (FindChild), which do not take the signal:
    // the operation still ends when it aborts, and the lookup by its own deadline.
    const lookup = await timed(p.describe(groupTags('stall-describe'), { signal: AbortSignal.timeout(300) }));
    assert.equal(lookup.outcome.ok, false);
    if (!lookup.outcome.ok)
      assert.ok(lookup.outcome.error instanceof AbortError, describeError(lookup.outcome.error));
    assert.ok(lookup.ms < 300 + SLACK_MS, `describe aborted in ${lookup.ms} ms`);
    const destroyed = await timed(
      p.destroy('vm-1', { Reason: 'terminate' }, { signal: AbortSignal.timeout(300) }),
    );
    assert.equal(destroyed.outcome.ok, false);
    if (!destroyed.outcome.ok)
      assert.ok(destroyed.outcome.error instanceof AbortError, describeError(destroyed.outcome.error));
    assert.ok(destroyed.ms < 300 + SLACK_MS, `destroy aborted in ${destroyed.ms} ms`);
    // Without a group, describe lists the datacenter's VMs in one RetrievePropertiesEx, which takes
    // the signal itself.
    rig.proxy.setRules([]);
    await p.describe({});
    rig.proxy.setRules([{ method: 'RetrievePropertiesEx', fault: { kind: 'stall' } }]);
    const aborted = await timed(p.describe({}, { signal: AbortSignal.timeout(300) }));
    assert.equal(aborted.outcome.ok, false);
    if (!aborted.outcome.ok)
      assert.ok(aborted.outcome.error instanceof AbortError, describeError(aborted.outcome.error));
    assert.ok(aborted.ms < 300 + SLACK_MS, `describe aborted in ${aborted.ms} ms`);
    rig.proxy.setRules([]);
    assert.deepEqual(await p.describe(groupTags('stall-describe')), []);
  });
});

interface Exit {
  code: number | null;
  output: string;
  ms: number;
}

async function runCli(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Exit> {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, ...args], {
    env: {
      ...process.env,
      VCURL: rig.proxy.sdkUrl,
      VCUSERNAME: PROVIDER_USER,
      VCPASSWORD: PASSWORD,
      VCDATACENTER: 'DC0',
      DEBUG: '',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(killer);
  watch.text(`cli ${args[0]}`, output);
  return { code, output, ms: Math.round(performance.now() - started) };
}

describe('a stalled vCenter: the CLI', () => {
  // Starting node and loading the CLI from TypeScript takes a while on this machine.
  const START_MS = 4_000;

  it('describe --timeout 2s exits 5 within the timeout and names the timeout on stderr', async () => {
    rig.proxy.setRules([STALL_ALL]);
    const exit = await runCli(['describe', '--timeout', '2s']);
    rig.proxy.setRules([]);
    console.log(`CLI describe --timeout 2s against a stall: exit ${exit.code} after ${exit.ms} ms`);
    assert.equal(exit.code, ExitCode.timeout, exit.output);
    assert.match(exit.output, /^infrakit-instance-vsphere: describe timed out after 2000 ms \(TIMEOUT\)$/m);
    assert.ok(exit.ms < 2000 + START_MS + SLACK_MS, `exited after ${exit.ms} ms`);
  });

  it('label --timeout 1500ms after a login that went through exits 5 in bound', async () => {
    rig.proxy.setRules([{ method: 'RetrievePropertiesEx', fault: { kind: 'stall' } }]);
    const exit = await runCli(['label', 'vm-1', 'a=b', '--timeout', '1500ms']);
    rig.proxy.setRules([]);
    assert.equal(exit.code, ExitCode.timeout, exit.output);
    assert.ok(exit.ms < 1500 + START_MS + SLACK_MS, `exited after ${exit.ms} ms`);
  });

  it('serve --timeout 1500ms: the start-up login check against a stall exits 5 in bound', async () => {
    const plugins = await mkdtemp(join(tmpdir(), 'ikv-stall-'));
    try {
      rig.proxy.setRules([STALL_ALL]);
      const exit = await runCli(['serve', '--name', 'stall', '--timeout', '1500ms'], {
        INFRAKIT_PLUGINS_DIR: plugins,
      });
      rig.proxy.setRules([]);
      console.log(`CLI serve --timeout 1500ms against a stall: exit ${exit.code} after ${exit.ms} ms`);
      assert.equal(exit.code, ExitCode.timeout, exit.output);
      assert.match(exit.output, /cannot log in to .*timed out after 1500 ms/);
      assert.ok(exit.ms < 1500 + START_MS + SLACK_MS, `exited after ${exit.ms} ms`);
    } finally {
      await rm(plugins, { recursive: true, force: true });
    }
  });

  it('junk in --timeout is a usage error', async () => {
    const exit = await runCli(['describe', '--timeout', '10 seconds']);
    assert.equal(exit.code, ExitCode.usage, exit.output);
    assert.match(exit.output, /--timeout/);
  });
});

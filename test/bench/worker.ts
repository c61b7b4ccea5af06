/**
 * The library's side of the benchmark, in its own process (so its heap, GC and RSS are its own):
 * `node test/bench/worker.ts <sdkUrl> <sha256-thumbprint>`. It logs in before it says it is ready
 * (login is outside every timed part, as in the Go peer), then answers JSON requests, one per line
 * on stdin, with one JSON line on stdout. Times are performance.now() around the library call;
 * round trips are counted at the library's HTTP transport (`transport.requestCount`), and the
 * SOAP method of every request is logged there too.
 *
 * BENCH_LIBRARY=<dir> runs it on another copy of src/ (e.g. a patched copy under .cache/bench, to
 * measure a proposed fix side by side with the peer before it is made in src/).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import type { JsonValue } from '../../src/spi/instance.ts';
import type { HttpRequest } from '../../src/transport/http.ts';
import { RawSoap } from './lib/raw-soap.ts';

const libraryDir = process.env.BENCH_LIBRARY
  ? pathToFileURL(`${resolve(process.env.BENCH_LIBRARY)}/`).href
  : new URL('../../src/', import.meta.url).href;
const { VSphereInstanceProvider } = (await import(
  new URL('index.ts', libraryDir).href
)) as typeof import('../../src/index.ts');
const { decodeResponse } = (await import(
  new URL('vim25/index.ts', libraryDir).href
)) as typeof import('../../src/vim25/index.ts');

interface Request {
  op: string;
  group?: string;
  count?: number;
  /** describeLoop: a re-label by another client every this many describes (0: none). */
  touchEvery?: number;
  concurrency?: number;
  /** `shaped`: a clone with two static NICs (cloud-init metadata) and an extra disk. */
  kind?: 'clone' | 'iso' | 'shaped';
  template?: string;
  host?: string;
  configHash?: string;
  file?: string;
  warmup?: number;
  reps?: number;
}

type Answer = Record<string, unknown>;

const [sdkUrl, thumbprint] = process.argv.slice(2);
if (!sdkUrl || !thumbprint) {
  process.stderr.write('usage: node test/bench/worker.ts <sdkUrl> <sha256-thumbprint>\n');
  process.exit(2);
}

/** vcsim and where to build: every provider of this worker. */
const connection = {
  url: sdkUrl,
  username: 'user',
  password: 'pass',
  tls: { thumbprint },
  datacenter: 'DC0',
  datastore: 'LocalDS_0',
};

/** Waits until `target` has a mirror and none is still building; the time it took, in ms. */
async function mirrorsBuilt(target: InstanceType<typeof VSphereInstanceProvider>): Promise<number> {
  const started = performance.now();
  const list = () => target.mirrors?.list() ?? [];
  while (list().length === 0 || list().some((m) => m.state === 'building')) {
    if (performance.now() - started > 600_000) throw new Error('the mirror was not built in 10 minutes');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return performance.now() - started;
}

const provider = new VSphereInstanceProvider({
  ...connection,
  // P3 runs with the per-host build limit at the provider's default (8) unless this sets it.
  ...(process.env.BENCH_BUILDS_PER_HOST !== undefined
    ? { maxConcurrentBuildsPerHost: Number(process.env.BENCH_BUILDS_PER_HOST) }
    : {}),
  // P8 also measures a mirror that trusts vCenter's `leave` for VMs moved out of the folder.
  ...(process.env.BENCH_MIRROR_CHECK === '0' ? { describeMirror: { checkMembership: false } } : {}),
});
const transport = provider.client.transport;

/** Response bytes received, in all. */
let bytesIn = 0;
/** Another client, mirror off, that changes VMs behind the measured provider's back (P8). */
let changer: InstanceType<typeof VSphereInstanceProvider> | undefined;
let touches = 0;
/** SOAP methods sent since the last reset, in order. */
let methods: string[] = [];
/** Time spent waiting for answers, per SOAP method, since the last reset: [calls, total ms, max ms]. */
let latency = new Map<string, [number, number, number]>();
/** The last RetrievePropertiesEx of VM properties sent (the describe body, for the wire floor). */
let lastRetrieve: string | undefined;
/** How long the transport took to send it and receive the whole answer (before any decoding). */
let lastRetrieveWireMs = 0;
const bodyMethod = /<(?:[\w-]+:)?Body[^>]*>\s*<(?:[\w-]+:)?([A-Za-z_]+)/;
const send = transport.request.bind(transport);
transport.request = (req: HttpRequest) => {
  const method =
    typeof req.body === 'string'
      ? (bodyMethod.exec(req.body.slice(0, 1000))?.[1] ?? '?')
      : `${req.method} ${req.path.split('?')[0]}`;
  methods.push(method);
  // The describe query reads VirtualMachine properties (a first describe also reads recent tasks).
  const isDescribe =
    method === 'RetrievePropertiesEx' &&
    typeof req.body === 'string' &&
    req.body.includes('<type>VirtualMachine</type>');
  if (isDescribe) lastRetrieve = req.body as string;
  // Bytes received, streamed or not (P8 compares what a describe puts on the wire).
  const stream = req.streamBody;
  if (stream) {
    req.streamBody = (status) => {
      const sink = stream(status);
      return sink
        ? (chunk: Buffer) => {
            bytesIn += chunk.length;
            sink(chunk);
          }
        : undefined;
    };
  }
  const started = performance.now();
  const record = () => {
    const ms = performance.now() - started;
    if (isDescribe) lastRetrieveWireMs = ms;
    const entry = latency.get(method) ?? [0, 0, 0];
    latency.set(method, [entry[0] + 1, entry[1] + ms, Math.max(entry[2], ms)]);
  };
  const pending = send(req);
  pending.then((response) => {
    if (!response.streamed) bytesIn += response.body.length;
    record();
  }, record);
  return pending;
};

function resetTrace(): void {
  methods = [];
  latency = new Map();
}

/** Per method: calls, total and worst wait in ms (rounded), heaviest first. */
function latencyReport(): Record<string, { calls: number; totalMs: number; maxMs: number }> {
  const out: Record<string, { calls: number; totalMs: number; maxMs: number }> = {};
  for (const [method, [calls, total, max]] of [...latency.entries()].sort((a, b) => b[1][1] - a[1][1])) {
    out[method] = { calls, totalMs: Math.round(total), maxMs: Math.round(max) };
  }
  return out;
}

function tally(list: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of list) out[m] = (out[m] ?? 0) + 1;
  return out;
}

const describeBodies = new Map<string, string>();
/** Per group, an instance ID seen by its first describe (the VM P8 changes). */
const firstIds = new Map<string, string>();
const instances = new Map<string, string[]>();
let floorSoap: RawSoap | undefined;

async function floorClient(): Promise<RawSoap> {
  if (!floorSoap) {
    floorSoap = new RawSoap(sdkUrl!);
    await floorSoap.login();
  }
  return floorSoap;
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return failures;
}

async function serve(req: Request): Promise<Answer> {
  switch (req.op) {
    case 'describe': {
      const group = req.group!;
      resetTrace();
      lastRetrieve = undefined;
      const calls = transport.requestCount;
      const bytes = bytesIn;
      const cpu = process.cpuUsage();
      const started = performance.now();
      const found = await provider.describe({ 'infrakit.group': group });
      const ms = performance.now() - started;
      // The process's CPU during the describe (user + system, every thread: GC and JIT included).
      const used = process.cpuUsage(cpu);
      const cpuMs = (used.user + used.system) / 1000;
      if (lastRetrieve) describeBodies.set(group, lastRetrieve);
      if (!firstIds.has(group) && found[0]) firstIds.set(group, found[0].ID);
      return {
        ms,
        cpuMs,
        wireMs: lastRetrieveWireMs,
        calls: transport.requestCount - calls,
        bytes: bytesIn - bytes,
        count: found.length,
        methods: tally(methods),
        ...(provider.mirrors ? { mirror: { ...provider.mirrors.stats } } : {}),
      };
    }
    case 'touch': {
      // One VM of the group re-labelled by another client (its annotation changes).
      const id = firstIds.get(req.group!);
      if (!id) throw new Error(`no describe of ${req.group} was made yet: no VM to change`);
      changer ??= new VSphereInstanceProvider({ ...connection, describeMirror: false });
      touches += 1;
      await changer.label(id, { 'bench.touch': String(touches) });
      return { id };
    }
    case 'describeLoop': {
      // A long-lived provider's memory: `count` describes, a re-label by another client every
      // `touchEvery`, RSS (not collected by hand: what the process really holds) every 50.
      const group = req.group!;
      const count = Number(req.count);
      const every = Number(req.touchEvery ?? 0);
      const rss: number[] = [];
      const started = performance.now();
      for (let i = 1; i <= count; i++) {
        if (every > 0 && i % every === 0) await serve({ op: 'touch', group });
        await provider.describe({ 'infrakit.group': group });
        if (i % 50 === 0) rss.push(process.memoryUsage().rss);
      }
      return {
        rss,
        ms: performance.now() - started,
        ...(provider.mirrors ? { mirror: { ...provider.mirrors.stats } } : {}),
      };
    }
    case 'coldDescribe': {
      // A fresh provider with the mirror on, in this (already warm) process: its login is not
      // timed, its first describe is; then the wait for its mirror, so that the background build
      // does not run into the next measured read; then it is closed.
      const group = req.group!;
      const fresh = new VSphereInstanceProvider({ ...connection, describeMirror: true });
      try {
        await fresh.client.connect();
        const calls = fresh.client.transport.requestCount;
        const started = performance.now();
        const found = await fresh.describe({ 'infrakit.group': group });
        const ms = performance.now() - started;
        const calledDuring = fresh.client.transport.requestCount - calls;
        const builtMs = await mirrorsBuilt(fresh);
        return {
          ms,
          calls: calledDuring,
          count: found.length,
          builtMs,
          states: (fresh.mirrors?.list() ?? []).map((m) => m.state),
        };
      } finally {
        await fresh.close();
      }
    }
    case 'heap': {
      // With --expose-gc: what is still referenced, not what awaits collection.
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      const memory = process.memoryUsage();
      return {
        heapUsed: memory.heapUsed,
        heapTotal: memory.heapTotal,
        external: memory.external,
        arrayBuffers: memory.arrayBuffers,
        rss: memory.rss,
        maxRssKB: process.resourceUsage().maxRSS,
        // The young generation's size: V8 grows it (to 128 MB here) under a high allocation rate.
        newSpace: getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0,
        collected: gc !== undefined,
      };
    }
    case 'snapshot': {
      // A V8 heap snapshot of the worker (what holds what), for a memory investigation.
      return { file: writeHeapSnapshot(req.file) };
    }
    case 'mirrorReady': {
      const ms = await mirrorsBuilt(provider);
      const list = provider.mirrors?.list() ?? [];
      return { ms, states: list.map((m) => m.state), objects: list.map((m) => m.size) };
    }
    case 'floor': {
      const body = describeBodies.get(req.group!);
      if (!body) throw new Error(`no describe of ${req.group} was made yet: nothing to replay`);
      const soap = await floorClient();
      const started = performance.now();
      const { status, bytes } = await soap.postDiscard(body);
      const ms = performance.now() - started;
      if (status !== 200) throw new Error(`floor: HTTP ${status} (${bytes} bytes)`);
      return { ms, bytes };
    }
    case 'capture': {
      const body = describeBodies.get(req.group!);
      if (!body) throw new Error(`no describe of ${req.group} was made yet: nothing to capture`);
      const response = await (await floorClient()).post(body);
      if (response.status !== 200) throw new Error(`capture: HTTP ${response.status}`);
      writeFileSync(req.file!, response.body);
      return { bytes: response.body.length };
    }
    case 'decode': {
      const xml = readFileSync(req.file!);
      const cpuMs: number[] = [];
      const wallMs: number[] = [];
      let objects = 0;
      for (let i = 0; i < (req.warmup ?? 0) + (req.reps ?? 1); i++) {
        const cpu = process.cpuUsage();
        const wall = performance.now();
        const result = decodeResponse(xml, 'RetrievePropertiesEx') as { objects?: unknown[] } | undefined;
        const spentWall = performance.now() - wall;
        const spent = process.cpuUsage(cpu);
        objects = result?.objects?.length ?? 0;
        if (i < (req.warmup ?? 0)) continue;
        cpuMs.push((spent.user + spent.system) / 1000);
        wallMs.push(spentWall);
      }
      return { cpuMs, wallMs, bytes: xml.length, objects };
    }
    case 'provision': {
      const group = req.group!;
      const properties: Record<string, JsonValue> =
        req.kind === 'iso'
          ? { ISOPath: '[LocalDS_0] bench/linuxkit.iso', Hostname: req.host ?? 'DC0_H0' }
          : { Template: req.template ?? 'DC0_H0_VM0', Hostname: req.host ?? 'DC0_H0' };
      if (req.kind === 'shaped') {
        properties.Networks = [
          { Network: 'VM Network', IPv4: ['10.0.0.10/24'], Gateway4: '10.0.0.1' },
          { Network: 'DC0_DVPG0', IPv4: ['10.1.0.10/24'] },
        ];
        properties.Nameservers = ['10.0.0.2'];
        properties.DiskMB = 64;
      }
      const spec = {
        Tags: { 'infrakit.group': group, 'infrakit.config.hash': req.configHash ?? 'bench-hash' },
        Properties: properties,
      };
      const made: string[] = [];
      resetTrace();
      const calls = transport.requestCount;
      const started = performance.now();
      const failures = await pool(
        Array.from({ length: req.count ?? 1 }, (_, i) => i),
        req.concurrency ?? 1,
        async () => {
          made.push(await provider.provision(spec));
        },
      );
      const ms = performance.now() - started;
      instances.set(group, [...(instances.get(group) ?? []), ...made]);
      return {
        ms,
        calls: transport.requestCount - calls,
        count: made.length,
        failures,
        methods: tally(methods),
        latency: latencyReport(),
      };
    }
    case 'teardown': {
      const ids = instances.get(req.group!) ?? [];
      instances.delete(req.group!);
      resetTrace();
      const calls = transport.requestCount;
      const started = performance.now();
      const failures = await pool(ids, req.concurrency ?? 1, (id) =>
        provider.destroy(id, { Reason: 'terminate' }),
      );
      const ms = performance.now() - started;
      return {
        ms,
        calls: transport.requestCount - calls,
        count: ids.length - failures.length,
        failures,
        methods: tally(methods),
        latency: latencyReport(),
      };
    }
    case 'rusage': {
      const memory = process.memoryUsage();
      return {
        maxRssKB: process.resourceUsage().maxRSS,
        rss: memory.rss,
        heapUsed: memory.heapUsed,
        heapTotal: memory.heapTotal,
        external: memory.external,
        arrayBuffers: memory.arrayBuffers,
        newSpace: getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0,
      };
    }
    default:
      throw new Error(`unknown op ${req.op}`);
  }
}

function reply(answer: Answer): void {
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}

try {
  await provider.client.connect();
} catch (error) {
  reply({ ok: false, error: `login: ${(error as Error).message}` });
  process.exit(1);
}
reply({ ok: true, node: process.version });

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  let req: Request;
  try {
    req = JSON.parse(line) as Request;
  } catch (error) {
    reply({ ok: false, error: `bad request: ${(error as Error).message}` });
    continue;
  }
  if (req.op === 'quit') break;
  try {
    reply({ ok: true, ...(await serve(req)) });
  } catch (error) {
    reply({ ok: false, error: (error as Error).stack ?? String(error) });
  }
}
await provider.close();
floorSoap?.close();

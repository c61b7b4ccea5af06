/**
 * TLS and secrets (issue 6, item 6), on the library, the operator CLI and the plugin (`serve`):
 * the certificate is verified by default, a thumbprint pin or a CA bundle trusts exactly one
 * certificate, `insecure` is the only way to accept anything, and a man in the middle (the fault
 * proxy serving HTTPS with its own certificate) never receives a single request unless insecure
 * was asked for. The password and the session cookies appear in no log line, no output, no error
 * and no inspected object of this file.
 */
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.ts';
import { VSphereError, VSphereInstanceProvider } from '../../src/index.ts';
import type { TlsOptions } from '../../src/transport/tls.ts';
import { call } from '../plugin/rpc-client.ts';
import { makeCertificate, type TestCertificate } from '../reliability/certs.ts';
import { FaultProxy } from '../reliability/fault-proxy.ts';
import { describeError, PASSWORD, settle } from '../reliability/harness.ts';
import { SecretWatch } from '../reliability/secrets.ts';
import { Vcsim } from '../vcsim/vcsim.ts';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const USER = 'tls-user';
const watch = new SecretWatch().captureDebug().secret(PASSWORD);
let sim: Vcsim;
let mitm: FaultProxy;
let other: TestCertificate;
let dir: string;
const providers: VSphereInstanceProvider[] = [];
const children = new Set<ChildProcessWithoutNullStreams>();

before(async () => {
  sim = await Vcsim.start({ username: USER, password: PASSWORD });
  other = makeCertificate();
  mitm = await FaultProxy.start({ upstream: sim.sdkUrl, tls: { key: other.key, cert: other.cert } });
  watch.cookiesFrom(mitm);
  dir = await mkdtemp(join(tmpdir(), 'ikv-tls-'));
  await writeFile(join(dir, 'vcsim.pem'), sim.certificate!.pem);
  await writeFile(join(dir, 'other.pem'), other.cert);
});
after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await Promise.allSettled(providers.map((p) => p.close()));
  await mitm?.close();
  await sim?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function provider(url: string, tls: TlsOptions | undefined) {
  const p = new VSphereInstanceProvider({
    url,
    username: USER,
    password: PASSWORD,
    datastore: 'LocalDS_0',
    keepAliveMs: 0,
    ...(tls ? { tls } : {}),
  });
  providers.push(p);
  return p;
}

/** Describes through a provider; returns the error code, or 'OK'. */
async function attempt(url: string, tls: Parameters<typeof provider>[1]): Promise<string> {
  const outcome = await settle(
    (async () => {
      const p = provider(url, tls);
      await p.describe({ 'infrakit.group': 'tls' });
      watch.object('provider', p);
    })(),
  );
  if (outcome.ok) return 'OK';
  watch.error(`describe with ${JSON.stringify(tls)}`, outcome.error);
  assert.ok(outcome.error instanceof VSphereError, describeError(outcome.error));
  return outcome.error.code;
}

describe('library: trust modes against vcsim and a man in the middle', () => {
  const vcsim = () => sim.sdkUrl;
  const middle = () => mitm.sdkUrl;
  const table: [string, () => string, () => Parameters<typeof provider>[1], string][] = [
    ['vcsim, default verification', vcsim, () => undefined, 'TLS_UNTRUSTED'],
    ['vcsim, pinned by SHA-256', vcsim, () => ({ thumbprint: sim.certificate!.sha256 }), 'OK'],
    [
      'vcsim, pinned by SHA-1 without colons',
      vcsim,
      () => ({ thumbprint: sim.certificate!.sha1.replace(/:/g, '') }),
      'OK',
    ],
    ['vcsim, its certificate as CA bundle', vcsim, () => ({ ca: sim.certificate!.pem }), 'OK'],
    ['vcsim, another CA bundle', vcsim, () => ({ ca: other.cert }), 'TLS_UNTRUSTED'],
    ['vcsim, insecure', vcsim, () => ({ insecure: true }), 'OK'],
    ['middle, default verification', middle, () => undefined, 'TLS_UNTRUSTED'],
    [
      'middle, pinned to vcsim',
      middle,
      () => ({ thumbprint: sim.certificate!.sha256 }),
      'TLS_THUMBPRINT_MISMATCH',
    ],
    ['middle, vcsim as CA bundle', middle, () => ({ ca: sim.certificate!.pem }), 'TLS_UNTRUSTED'],
    ['middle, insecure (the only way through)', middle, () => ({ insecure: true }), 'OK'],
    [
      'insecure and a pin at once',
      vcsim,
      () => ({ insecure: true, thumbprint: sim.certificate!.sha256 }),
      'VALIDATION',
    ],
    ['a malformed pin', vcsim, () => ({ thumbprint: 'not-a-thumbprint' }), 'VALIDATION'],
    // As YAML or an environment variable gives it: a string, and a truthy one.
    [
      'middle, insecure: "false" (a string)',
      middle,
      () => ({ insecure: 'false' }) as unknown as TlsOptions,
      'VALIDATION',
    ],
    [
      'middle, insecure: "false" beside a pin to vcsim',
      middle,
      () => ({ insecure: 'false', thumbprint: sim.certificate!.sha256 }) as unknown as TlsOptions,
      'VALIDATION',
    ],
    [
      'middle, insecure with a CA bundle',
      middle,
      () => ({ insecure: true, ca: sim.certificate!.pem }),
      'VALIDATION',
    ],
    ['vcsim, a CA bundle that is no certificate', vcsim, () => ({ ca: 'vcsim.pem' }), 'VALIDATION'],
  ];
  for (const [name, url, tls, expected] of table) {
    it(`${name}: ${expected}`, async () => {
      const requestsBefore = mitm.totals.requests;
      const connectionsBefore = mitm.connections;
      assert.equal(await attempt(url(), tls()), expected);
      if (url === middle && expected !== 'OK') {
        assert.equal(mitm.totals.requests, requestsBefore, 'not one request reached the man in the middle');
      }
      if (url === middle && expected === 'VALIDATION') {
        assert.equal(mitm.connections, connectionsBefore, 'refused before any connection');
      }
    });
  }

  it('an untrusted certificate is named by its thumbprints, so an operator can check and pin it', async () => {
    const p = provider(mitm.sdkUrl, undefined);
    const outcome = await settle(p.describe({}));
    assert.equal(outcome.ok, false);
    if (!outcome.ok) {
      watch.error('untrusted', outcome.error);
      assert.match(String((outcome.error as Error).message), new RegExp(other.sha256));
      assert.equal((outcome.error as { sha256?: string }).sha256, other.sha256);
    }
  });
});

// ---------------------------------------------------------------------------------------------

class Sink {
  text = '';
  isTTY = false;
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

async function cli(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  const stdout = new Sink();
  const stderr = new Sink();
  const code = await main(argv, {
    stdout,
    stderr,
    env: { VCUSERNAME: USER, VCPASSWORD: PASSWORD, VCDATACENTER: 'DC0', ...env },
    cwd: dir,
    stdin: (async function* () {})(),
  });
  const out = stdout.text + stderr.text;
  watch.text(`cli ${argv.join(' ')}`, out);
  return { code, out };
}

describe('operator CLI: trust flags and environment', () => {
  it('VCCAFILE with vcsim’s certificate: exit 0', async () => {
    const r = await cli(['describe'], { VCURL: sim.sdkUrl, VCCAFILE: join(dir, 'vcsim.pem') });
    assert.equal(r.code, 0, r.out);
  });
  it('--ca-file with another certificate: exit 4, the thumbprint printed', async () => {
    const r = await cli(['describe', '--ca-file', 'other.pem'], { VCURL: sim.sdkUrl });
    assert.equal(r.code, 4, r.out);
    assert.match(r.out, new RegExp(sim.certificate!.sha256));
  });
  it('no trust option at all: exit 4', async () => {
    const r = await cli(['describe'], { VCURL: sim.sdkUrl });
    assert.equal(r.code, 4, r.out);
  });
  it('VCTHUMBPRINT of vcsim through the man in the middle: exit 4, no request reached it', async () => {
    const before = mitm.totals.requests;
    const r = await cli(['describe'], { VCURL: mitm.sdkUrl, VCTHUMBPRINT: sim.certificate!.sha256 });
    assert.equal(r.code, 4, r.out);
    assert.match(r.out, /thumbprint/i);
    assert.equal(mitm.totals.requests, before);
  });
  it('--insecure with --thumbprint: a usage error (exit 2), nothing sent', async () => {
    const before = mitm.connections;
    const r = await cli(['describe', '--insecure', '--thumbprint', sim.certificate!.sha256], {
      VCURL: mitm.sdkUrl,
    });
    assert.equal(r.code, 2, r.out);
    assert.equal(mitm.connections, before);
  });
  it('--insecure through the man in the middle: exit 0 (only when asked)', async () => {
    const r = await cli(['describe', '--insecure'], { VCURL: mitm.sdkUrl });
    assert.equal(r.code, 0, r.out);
  });
});

// ---------------------------------------------------------------------------------------------

interface Served {
  child: ChildProcessWithoutNullStreams;
  socketPath: string;
  output: () => string;
  exited: Promise<number | null>;
}

let served = 0;
async function serve(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Served> {
  served += 1;
  const pluginsDir = join(dir, `plugins-${served}`);
  const child = spawn(process.execPath, [CLI, 'serve', '--name', 'vsphere', ...args], {
    env: {
      ...process.env,
      DEBUG: 'infrakit:*',
      INFRAKIT_PLUGINS_DIR: pluginsDir,
      VCUSERNAME: USER,
      VCPASSWORD: PASSWORD,
      VCDATACENTER: 'DC0',
      VCDATASTORE: 'LocalDS_0',
      ...env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = once(child, 'exit').then(([code]) => {
    children.delete(child);
    watch.text(`serve ${args.join(' ')}`, output);
    return code as number | null;
  });
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const deadline = Date.now() + 20_000;
  while (!done && !/serving on /.test(output)) {
    if (Date.now() > deadline) throw new Error(`serve neither served nor exited: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, socketPath: join(pluginsDir, 'vsphere'), output: () => output, exited };
}

describe('plugin (serve): trust at start-up and per subtype', () => {
  it('a certificate that is not trusted: exit 4 before any socket exists, nothing sent', async () => {
    const before = mitm.totals.requests;
    const s = await serve(['--url', mitm.sdkUrl, '--thumbprint', sim.certificate!.sha256]);
    assert.equal(await s.exited, 4, s.output());
    assert.equal(existsSync(s.socketPath), false);
    assert.equal(mitm.totals.requests, before);
    assert.match(s.output(), new RegExp(other.sha256), 'the presented thumbprint is printed');
  });

  it('--ca-file trusts vcsim: it serves, and answers DescribeInstances; SIGTERM exits 0', async () => {
    const s = await serve(['--url', sim.sdkUrl, '--ca-file', join(dir, 'vcsim.pem')]);
    const { reply } = await call({ socketPath: s.socketPath }, 'Instance.DescribeInstances', {
      Type: '',
      Tags: { 'infrakit.group': 'tls' },
    });
    assert.deepEqual(reply.result, { Type: '', Descriptions: [] });
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0);
  });

  it('--config subtypes: each with its own trust; the one through the middle only because it says insecure', async () => {
    const config = join(dir, 'subtypes.json');
    await writeFile(
      config,
      JSON.stringify({
        subtypes: {
          '': { url: sim.sdkUrl, thumbprint: sim.certificate!.sha256 },
          viaca: { url: sim.sdkUrl, caFile: 'vcsim.pem' },
          lab: { url: mitm.sdkUrl, insecure: true },
        },
      }),
    );
    const s = await serve(['--config', config]);
    for (const type of ['', 'viaca', 'lab']) {
      const { reply } = await call({ socketPath: s.socketPath }, 'Instance.DescribeInstances', {
        Type: type,
        Tags: { 'infrakit.group': 'tls' },
      });
      assert.deepEqual(reply.result, { Type: type, Descriptions: [] }, JSON.stringify(reply));
    }
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0);
    const bad = join(dir, 'bad-subtypes.json');
    await writeFile(
      bad,
      JSON.stringify({
        subtypes: {
          '': { url: sim.sdkUrl, thumbprint: sim.certificate!.sha256 },
          mitm: { url: mitm.sdkUrl, caFile: 'vcsim.pem' },
        },
      }),
    );
    const refused = await serve(['--config', bad]);
    assert.equal(await refused.exited, 4, refused.output());
  });
});

describe('secrets', () => {
  it('no password or session cookie in any debug line, CLI output, plugin log, error or inspected object', () => {
    assert.ok(watch.debugLines > 50, `captured ${watch.debugLines} debug lines`);
    assert.ok(watch.cookieCount >= 1, 'cookies seen through the man in the middle');
    assert.deepEqual(watch.leaks(), []);
  });
});

/**
 * The testing kit (`infrakit-instance-vsphere/testing`): starting and stopping a vcsim, the
 * connection it hands to the library, simulated VMware Tools, finding and building the launcher,
 * and that a forgotten vcsim neither keeps the test process alive nor outlives it.
 *
 * UPDATE_LAUNCHER_SOURCE=1 rewrites src/testing/launcher-source.ts from test/vcsim/launcher.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LoginError, VSphereInstanceProvider } from '../../src/index.ts';
import {
  installVcsim,
  LAUNCHER_SOURCE,
  launcherPath,
  locateVcsim,
  type RunningVcsim,
  startVcsim,
  VcsimInstallError,
  VcsimNotFoundError,
  vcsimCacheDir,
} from '../../src/testing/index.ts';
import {
  installedLauncherPath,
  launcherDir,
  locateVcsim as locateProjectVcsim,
  cacheDir as projectCacheDir,
} from '../vcsim/locate.ts';

const KIT = fileURLToPath(new URL('../../src/testing/index.ts', import.meta.url));
const SOURCE_FILE = fileURLToPath(new URL('../../src/testing/launcher-source.ts', import.meta.url));

let scratch: string;
let binary: string;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function hasGo(): boolean {
  try {
    execFileSync(process.env.GO ?? 'go', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'ikv-kit-'));
  binary = locateProjectVcsim();
});
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('startVcsim', () => {
  let sim: RunningVcsim;
  before(async () => {
    sim = await startVcsim({ binary, username: 'tester', password: 'p@ss:word/1' });
  });
  after(async () => {
    await sim?.stop();
  });

  it('serves HTTPS on a loopback port and describes how to reach it', () => {
    assert.match(sim.sdkUrl, /^https:\/\/127\.0\.0\.1:\d+\/sdk$/);
    assert.equal(sim.port, Number(new URL(sim.sdkUrl).port));
    assert.equal(sim.url, `https://tester:${encodeURIComponent('p@ss:word/1')}@127.0.0.1:${sim.port}/sdk`);
    assert.equal(sim.username, 'tester');
    assert.equal(sim.password, 'p@ss:word/1');
    assert.match(sim.thumbprint!, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.match(
      sim.certificatePem!,
      /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+\n-----END CERTIFICATE-----\n$/,
    );
    assert.equal(sim.binary, binary);
    assert.ok(sim.pid !== undefined && alive(sim.pid));
    assert.deepEqual(sim.connection, {
      url: sim.sdkUrl,
      username: 'tester',
      password: 'p@ss:word/1',
      tls: { thumbprint: sim.thumbprint },
    });
  });

  it("is vcsim's default inventory, usable by the library through sim.connection", async () => {
    const names = (await sim.listVms()).map((vm) => vm.name).sort();
    assert.deepEqual(names, ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_H0_VM0', 'DC0_H0_VM1']);
    const provider = new VSphereInstanceProvider({ ...sim.connection, datacenter: 'DC0' });
    try {
      await provider.validate({ Datastore: 'LocalDS_0', Hostname: 'DC0_H0', Template: 'DC0_H0_VM0' });
      assert.deepEqual(await provider.describe({ 'infrakit.group': 'none' }), []);
    } finally {
      await provider.close();
    }
  });

  it('lists VMs with their notes exactly, newlines included', async () => {
    const provider = new VSphereInstanceProvider({
      ...sim.connection,
      datacenter: 'DC0',
      datastore: 'LocalDS_0',
    });
    try {
      const id = await provider.provision({
        Tags: { 'infrakit.group': 'kit', 'infrakit.config.hash': 'h' },
        Properties: { Template: 'DC0_H0_VM0', Hostname: 'DC0_H0', Annotation: 'a & b\r\nc' },
      });
      const vm = (await sim.listVms()).find((v) => v.name === id);
      assert.ok(vm?.annotation?.startsWith('kit\nh\n'), JSON.stringify(vm?.annotation));
      assert.ok(vm?.annotation?.endsWith('\na & b\r\nc'), JSON.stringify(vm?.annotation));
      await provider.destroy(id, { Reason: 'terminate' });
    } finally {
      await provider.close();
    }
  });

  it('accepts the URL with credentials too (the original --url form)', async () => {
    const provider = new VSphereInstanceProvider({ url: sim.url, tls: { thumbprint: sim.thumbprint } });
    try {
      await provider.validate({ Datastore: 'LocalDS_0', Hostname: 'DC0_H0', Template: 'DC0_H0_VM0' });
    } finally {
      await provider.close();
    }
  });

  it('refuses other credentials', async () => {
    const provider = new VSphereInstanceProvider({ ...sim.connection, password: 'wrong' });
    try {
      await assert.rejects(provider.describe({}), LoginError);
    } finally {
      await provider.close();
    }
  });

  it('simulated tools give powered-on VMs a guest IP, with ipFor choosing it', async () => {
    sim.startTools({ delayMs: 0, intervalMs: 50, ipFor: (_vm, n) => `192.0.2.${n}` });
    try {
      await waitUntil('guest IPs', async () =>
        (await sim.listVms()).filter((vm) => vm.powerState === 'poweredOn').every((vm) => vm.ipAddress),
      );
      const ips = (await sim.listVms()).map((vm) => vm.ipAddress).filter((ip) => ip !== undefined);
      assert.ok(ips.length > 0);
      for (const ip of ips) assert.match(ip, /^192\.0\.2\.\d+$/);
    } finally {
      sim.stopTools();
    }
  });

  it('setGuestIp sets one', async () => {
    const [vm] = await sim.listVms();
    await sim.setGuestIp(vm!.moref, '198.51.100.7');
    await waitUntil('the IP', async () =>
      (await sim.listVms()).some((v) => v.moref === vm!.moref && v.ipAddress === '198.51.100.7'),
    );
  });
});

describe('stopping', () => {
  it('stop() ends vcsim, is idempotent, and so is asyncDispose', async () => {
    const sim = await startVcsim({ binary });
    const pid = sim.pid!;
    await sim.stop();
    assert.ok(!alive(pid));
    assert.equal(sim.pid, undefined);
    await sim.stop();
    await sim[Symbol.asyncDispose]();
    const provider = new VSphereInstanceProvider({ ...sim.connection, retries: 0 });
    try {
      await assert.rejects(provider.describe({}), /ECONNREFUSED/);
    } finally {
      await provider.close();
    }
  });

  it('a vcsim that was never stopped neither keeps its process alive nor outlives it', async () => {
    const script = `import { startVcsim } from ${JSON.stringify(KIT)};
const sim = await startVcsim({ binary: ${JSON.stringify(binary)} });
console.log(sim.pid);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timer);
    assert.equal(code, 0, 'the process exited by itself');
    const pid = Number(out.trim());
    assert.ok(pid > 0, out);
    await waitUntil('vcsim to exit with its parent', () => !alive(pid));
  });

  it('plain HTTP with tls: false', async () => {
    const sim = await startVcsim({ binary, tls: false });
    try {
      assert.match(sim.sdkUrl, /^http:\/\//);
      assert.equal(sim.thumbprint, undefined);
      assert.equal(sim.certificatePem, undefined);
      assert.deepEqual(sim.connection.tls, {});
      const provider = new VSphereInstanceProvider({ ...sim.connection });
      try {
        assert.deepEqual(await provider.describe({ 'infrakit.group': 'x' }), []);
      } finally {
        await provider.close();
      }
    } finally {
      await sim.stop();
    }
  });

  it('a binary that fails, or never serves, is reported with its output', async () => {
    const failing = join(scratch, 'failing-vcsim');
    writeFileSync(failing, '#!/bin/sh\necho "flag provided but not defined" >&2\nexit 2\n');
    chmodSync(failing, 0o755);
    await assert.rejects(
      startVcsim({ binary: failing }),
      /exited with 2 before serving: flag provided but not defined/,
    );
    const silent = join(scratch, 'silent-vcsim');
    writeFileSync(silent, '#!/bin/sh\nexec sleep 30\n');
    chmodSync(silent, 0o755);
    await assert.rejects(startVcsim({ binary: silent, startTimeoutMs: 300 }), /did not start in 300 ms/);
  });
});

describe('installVcsim', () => {
  it('a failed build says when the Go found is older than the launcher needs', async () => {
    const fakeGo = (version: string) => {
      const path = join(scratch, `go-${version}`);
      writeFileSync(
        path,
        `#!/bin/sh\nif [ "$1" = env ]; then echo go${version}; exit 0; fi\necho "go: download failed" >&2\nexit 1\n`,
      );
      chmodSync(path, 0o755);
      return path;
    };
    const cacheDir = join(scratch, 'install-cache');
    const quiet = () => {};
    await assert.rejects(
      installVcsim({ cacheDir, go: fakeGo('1.22.4'), log: quiet, env: {} }),
      (error: unknown) =>
        error instanceof VcsimInstallError &&
        /build of the vcsim launcher failed \(exit 1\): it needs Go >= 1\.25\.0 and found go1\.22\.4/.test(
          error.message,
        ),
    );
    await assert.rejects(
      installVcsim({ cacheDir, go: fakeGo('1.26.1'), log: quiet, env: {} }),
      (error: unknown) => error instanceof VcsimInstallError && /failed \(exit 1\)$/.test(error.message),
    );
  });
});

describe('locateVcsim', () => {
  it('prefers binary, then VCSIM', () => {
    assert.equal(locateVcsim({ binary, env: {} }), binary);
    assert.equal(locateVcsim({ env: { VCSIM: binary } }), binary);
  });

  it('refuses a VCSIM that does not exist, saying how to get one', () => {
    assert.throws(
      () => locateVcsim({ env: { VCSIM: '/nonexistent/vcsim' } }),
      (error: unknown) =>
        error instanceof VcsimNotFoundError &&
        /VCSIM=\/nonexistent\/vcsim is not an executable file/.test(error.message) &&
        /installVcsim/.test(error.message),
    );
  });

  it('finds the cached launcher, then vcsim on PATH, else explains', async () => {
    const cacheDir = join(scratch, 'cache');
    const empty = { PATH: '' };
    assert.throws(() => locateVcsim({ cacheDir, env: empty }), VcsimNotFoundError);
    const pathDir = join(scratch, 'bin');
    await mkdir(pathDir, { recursive: true });
    await writeFile(join(pathDir, 'vcsim'), '#!/bin/sh\n', { mode: 0o755 });
    assert.equal(locateVcsim({ cacheDir, env: { PATH: pathDir } }), join(pathDir, 'vcsim'));
    const cached = launcherPath({ cacheDir });
    await mkdir(join(cacheDir, 'vcsim'), { recursive: true });
    await writeFile(cached, '#!/bin/sh\n', { mode: 0o755 });
    assert.equal(locateVcsim({ cacheDir, env: { PATH: pathDir } }), cached);
    assert.match(cached, /vcsim-launcher-v\d+\.\d+\.\d+$/);
  });

  it('puts the cache in INFRAKIT_VSPHERE_CACHE, else XDG_CACHE_HOME, else ~/.cache', () => {
    assert.equal(vcsimCacheDir({ env: { INFRAKIT_VSPHERE_CACHE: '/x/y' } }), '/x/y');
    assert.equal(vcsimCacheDir({ env: { XDG_CACHE_HOME: '/xdg' } }), '/xdg/infrakit-instance-vsphere');
    assert.equal(vcsimCacheDir({ env: {} }), join(homedir(), '.cache', 'infrakit-instance-vsphere'));
    assert.equal(vcsimCacheDir({ cacheDir: '/given', env: { INFRAKIT_VSPHERE_CACHE: '/x' } }), '/given');
  });

  it('the project cache and the kit agree on where the launcher lives', () => {
    assert.equal(launcherPath({ cacheDir: projectCacheDir }), installedLauncherPath());
  });
});

describe('the embedded launcher', () => {
  it('is the source in test/vcsim/launcher', () => {
    const files = ['go.mod', 'go.sum', 'main.go', 'taskdelay.go'] as const;
    const onDisk = Object.fromEntries(files.map((f) => [f, readFileSync(join(launcherDir, f), 'utf8')]));
    if (process.env.UPDATE_LAUNCHER_SOURCE === '1') {
      const text = readFileSync(SOURCE_FILE, 'utf8');
      const start = text.indexOf('export const LAUNCHER_SOURCE');
      const body = files.map((f) => `  '${f}': ${JSON.stringify(onDisk[f])},`).join('\n');
      writeFileSync(
        SOURCE_FILE,
        `${text.slice(0, start)}export const LAUNCHER_SOURCE: Readonly<Record<'go.mod' | 'go.sum' | 'main.go' | 'taskdelay.go', string>> = {\n${body}\n};\n`,
      );
      return;
    }
    for (const f of files) {
      assert.equal(
        LAUNCHER_SOURCE[f],
        onDisk[f],
        `src/testing/launcher-source.ts is stale for ${f}: run UPDATE_LAUNCHER_SOURCE=1 node --test test/integration/testing-kit.test.ts`,
      );
    }
  });

  it('builds with installVcsim into a fresh cache, and that vcsim serves', {
    skip: !hasGo() && 'Go is not installed',
  }, async () => {
    const cacheDir = join(scratch, 'build-cache');
    const lines: string[] = [];
    const built = await installVcsim({ cacheDir, log: (line) => lines.push(line) });
    assert.equal(built, launcherPath({ cacheDir }));
    assert.match(lines.join('\n'), /building the launcher/);
    assert.equal(await installVcsim({ cacheDir, log: (line) => lines.push(`again: ${line}`) }), built);
    assert.ok(!lines.some((l) => l.startsWith('again:')), 'a second install does nothing');
    const sim = await startVcsim({ cacheDir, env: { ...process.env, VCSIM: '' } });
    try {
      assert.equal(sim.binary, built);
      assert.equal((await sim.listVms()).length, 4);
    } finally {
      await sim.stop();
    }
  });

  it('startVcsim({ install: true }) builds a missing launcher first', {
    skip: !hasGo() && 'Go is not installed',
  }, async () => {
    const cacheDir = join(scratch, 'install-cache');
    const sim = await startVcsim({
      cacheDir,
      install: true,
      env: { ...process.env, VCSIM: '', PATH: process.env.PATH },
    });
    try {
      assert.equal(sim.binary, launcherPath({ cacheDir }));
    } finally {
      await sim.stop();
    }
  });
});

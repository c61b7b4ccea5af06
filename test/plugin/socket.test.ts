import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { lstat, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { VSphereError } from '../../src/errors.ts';
import {
  installSignalHandlers,
  PluginSocketInUseError,
  resolvePluginDir,
  startPluginServer,
} from '../../src/plugin/socket.ts';
import { FakePlugin } from './fake-plugin.ts';
import { call } from './rpc-client.ts';

const childScript = join(import.meta.dirname, 'fixtures', 'plugin-child.ts');

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Starts the child plugin process and waits until it serves; resolves with its first stdout lines. */
async function startChild(dir: string, ...args: string[]): Promise<{ child: ChildProcess; lines: string[] }> {
  const child = spawn(process.execPath, [childScript, dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      lines.push(...parts);
      if (parts.some((line) => line.startsWith('ready '))) resolve();
    });
    child.once('exit', (code) => reject(new Error(`child exited with ${code}: ${stderr}`)));
  });
  return { child, lines };
}

function plugins() {
  return { '': new FakePlugin() };
}

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'iks-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('resolvePluginDir', () => {
  const cases: [string, NodeJS.ProcessEnv, string][] = [
    ['INFRAKIT_PLUGINS_DIR wins', { INFRAKIT_PLUGINS_DIR: '/p', INFRAKIT_HOME: '/h' }, '/p'],
    ['then INFRAKIT_HOME/plugins', { INFRAKIT_HOME: '/h' }, '/h/plugins'],
    [
      'empty variables count as unset',
      { INFRAKIT_PLUGINS_DIR: '', INFRAKIT_HOME: '' },
      '/home/u/.infrakit/plugins',
    ],
    ['else ~/.infrakit/plugins', {}, '/home/u/.infrakit/plugins'],
  ];
  for (const [name, env, expected] of cases) {
    it(name, () => {
      assert.equal(resolvePluginDir(env, '/home/u'), expected);
    });
  }
});

describe('startPluginServer', () => {
  it('creates the directory 0700, the socket 0600 and the pid file, and removes both on close', async () => {
    const dir = join(root, 'fresh', 'plugins');
    const running = await startPluginServer({
      name: 'instance-vsphere',
      dir,
      plugins: plugins(),
      logger: () => {},
    });
    try {
      assert.equal(running.socketPath, join(dir, 'instance-vsphere'));
      assert.equal(running.pidPath, join(dir, 'instance-vsphere.pid'));
      assert.equal((await stat(dir)).mode & 0o777, 0o700);
      const socket = await lstat(running.socketPath);
      assert.ok(socket.isSocket());
      assert.equal(socket.mode & 0o777, 0o600);
      assert.equal(await readFile(running.pidPath, 'utf8'), String(process.pid));
      const { reply } = await call(running, 'Handshake.Implements', {});
      assert.deepEqual(reply.result, { APIs: [{ Name: 'Instance', Version: '0.6.0' }] });
    } finally {
      await running.close();
    }
    assert.equal(await exists(running.socketPath), false);
    assert.equal(await exists(running.pidPath), false);
    await running.close(); // idempotent
  });

  it('places the socket under $INFRAKIT_HOME/plugins when no dir is given', async () => {
    const home = join(root, 'home');
    const running = await startPluginServer({
      name: 'vsphere',
      env: { INFRAKIT_HOME: home },
      plugins: plugins(),
      logger: () => {},
    });
    try {
      assert.equal(running.socketPath, join(home, 'plugins', 'vsphere'));
      assert.ok((await lstat(running.socketPath)).isSocket());
    } finally {
      await running.close();
    }
  });

  it('replaces a stale socket left by a crashed process', async () => {
    const dir = join(root, 'stale');
    await mkdir(dir, { recursive: true });
    const socketPath = join(dir, 'instance-vsphere');
    // A process that binds the socket and dies without cleaning up.
    const crashed = spawn(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    await once(crashed, 'exit');
    assert.ok((await lstat(socketPath)).isSocket(), 'the crashed process should leave its socket behind');
    await writeFile(`${socketPath}.pid`, String(crashed.pid));

    const running = await startPluginServer({
      name: 'instance-vsphere',
      dir,
      plugins: plugins(),
      logger: () => {},
    });
    try {
      const { reply } = await call(running, 'Handshake.Hello', {});
      assert.deepEqual(reply.result, { Objects: { 'Instance/0.6.1': [{ Name: '.', ProxyFor: '' }] } });
      assert.equal(await readFile(running.pidPath, 'utf8'), String(process.pid));
    } finally {
      await running.close();
    }
  });

  it('refuses a socket a live process answers on, naming its pid, and leaves its files alone', async () => {
    const dir = join(root, 'live');
    const { child } = await startChild(dir);
    try {
      await assert.rejects(
        startPluginServer({ name: 'instance-vsphere', dir, plugins: plugins(), logger: () => {} }),
        (error: unknown) => {
          assert.ok(error instanceof PluginSocketInUseError);
          assert.equal(error.code, 'PLUGIN_SOCKET_IN_USE');
          assert.equal(error.pid, child.pid);
          assert.match(error.message, new RegExp(`in use by pid ${child.pid}`));
          return true;
        },
      );
      assert.ok((await lstat(join(dir, 'instance-vsphere'))).isSocket());
      assert.equal(await readFile(join(dir, 'instance-vsphere.pid'), 'utf8'), String(child.pid));
      const { reply } = await call({ socketPath: join(dir, 'instance-vsphere') }, 'Handshake.Implements', {});
      assert.ok(reply.result, 'the running plugin must keep serving');
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('refuses a path that exists and is not a socket', async () => {
    const dir = join(root, 'file');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'instance-vsphere'), 'tcp://127.0.0.1:24864');
    await assert.rejects(
      startPluginServer({ name: 'instance-vsphere', dir, plugins: plugins(), logger: () => {} }),
      (error: unknown) => error instanceof VSphereError && error.code === 'PLUGIN_SOCKET_PATH_TAKEN',
    );
  });

  it('rejects names that are not plain file names, and socket paths too long for the kernel', async () => {
    for (const name of ['', '../x', 'a/b', '.hidden', 'x.pid']) {
      await assert.rejects(
        startPluginServer({ name, dir: root, plugins: plugins(), logger: () => {} }),
        (error: unknown) => error instanceof VSphereError && error.code === 'INVALID_OPTION',
        name,
      );
    }
    await assert.rejects(
      startPluginServer({ name: 'x'.repeat(120), dir: root, plugins: plugins(), logger: () => {} }),
      (error: unknown) => error instanceof VSphereError && error.code === 'PLUGIN_SOCKET_PATH_TOO_LONG',
    );
  });

  it('leaves a pid file that another process has rewritten', async () => {
    const dir = join(root, 'pid');
    const running = await startPluginServer({
      name: 'instance-vsphere',
      dir,
      plugins: plugins(),
      logger: () => {},
    });
    await writeFile(running.pidPath, '1');
    await running.close();
    assert.equal(await readFile(running.pidPath, 'utf8'), '1');
    assert.equal(await exists(running.socketPath), false);
  });
});

describe('signals', () => {
  it('importing the library installs no signal handlers', async () => {
    const dir = join(root, 'import');
    const { child, lines } = await startChild(dir, '--no-handlers');
    try {
      assert.equal(lines[0], 'listeners 0 0');
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} removes the socket and pid file, then ends the process by the signal`, async () => {
      const dir = join(root, signal);
      const { child } = await startChild(dir);
      assert.ok(await exists(join(dir, 'instance-vsphere')));
      assert.ok(await exists(join(dir, 'instance-vsphere.pid')));
      child.kill(signal);
      const [code, endedBy] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
      assert.equal(code, null);
      assert.equal(endedBy, signal);
      assert.equal(await exists(join(dir, 'instance-vsphere')), false);
      assert.equal(await exists(join(dir, 'instance-vsphere.pid')), false);
    });
  }

  it('installs on the given signals, closes the target once, and uninstalls', async () => {
    const before = process.listenerCount('SIGHUP');
    let closes = 0;
    const exits: string[] = [];
    const uninstall = installSignalHandlers(
      {
        async close() {
          closes++;
        },
      },
      { signals: ['SIGHUP'], exit: (signal) => exits.push(signal) },
    );
    assert.equal(process.listenerCount('SIGHUP'), before + 1);
    process.emit('SIGHUP', 'SIGHUP');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(closes, 1);
    assert.deepEqual(exits, ['SIGHUP']);
    uninstall();
    assert.equal(process.listenerCount('SIGHUP'), before);
  });
});

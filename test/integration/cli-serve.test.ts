/**
 * `serve` as InfraKit runs it: a child process started with the original one-dash Go flags on a
 * temporary INFRAKIT_PLUGINS_DIR, driven by a JSON-RPC client over the unix socket (both
 * handshakes, Validate, Provision, DescribeInstances, Label, Destroy), then SIGTERM removes the
 * socket and pid file. Also: --config subtypes, --listen on loopback TCP, a refused login (exit 4),
 * a socket already in use (exit 1), SIGINT.
 */
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { lstat, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { VSphereClient } from '../../src/blocks.ts';
import { packageVersion } from '../../src/cli/main.ts';
import { ManagedObjectReference } from '../../src/index.ts';
import { call, get, type JsonRpcReply } from '../plugin/rpc-client.ts';
import { Vcsim } from '../vcsim/vcsim.ts';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const PASSWORD = 'Serve-S3cret!pw';
const PROPERTIES = { Datastore: 'LocalDS_0', Hostname: 'DC0_H0', Template: 'DC0_H0_VM0', PowerOn: true };

let sim: Vcsim;
let root: string;
const children = new Set<ChildProcessWithoutNullStreams>();

interface Served {
  child: ChildProcessWithoutNullStreams;
  dir: string;
  socketPath: string;
  pidPath: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let dirCount = 0;

/** Starts `serve` with `args` in a fresh plugins dir; resolves once it serves (or exits). */
async function serve(
  args: string[],
  extraEnv: NodeJS.ProcessEnv = {},
  name = 'instance-vsphere',
): Promise<Served> {
  dirCount += 1;
  const dir = join(root, `p${dirCount}`);
  return serveIn(dir, args, extraEnv, name);
}

async function serveIn(
  dir: string,
  args: string[],
  extraEnv: NodeJS.ProcessEnv,
  name: string,
): Promise<Served> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: {
      ...process.env,
      DEBUG: '',
      INFRAKIT_PLUGINS_DIR: dir,
      VCPASSWORD: PASSWORD,
      ...extraEnv,
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
  const exited = once(child, 'exit').then(([code, signal]) => {
    children.delete(child);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });
  const deadline = Date.now() + 20_000;
  let done = false;
  void exited.then(() => {
    done = true;
  });
  while (!done && !/serving on /.test(output)) {
    if (Date.now() > deadline) throw new Error(`serve did not start: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const socketPath = join(dir, name);
  return { child, dir, socketPath, pidPath: `${socketPath}.pid`, output: () => output, exited };
}

function baseArgs(): string[] {
  // The original Go plugin's flags, with one dash, as InfraKit start scripts wrote them.
  return [
    '-url',
    `https://operator@${sim.sdkUrl.slice('https://'.length)}`,
    '-datacenter',
    'DC0',
    '-datastore',
    'LocalDS_0',
    '-hostname',
    'DC0_H0',
    '--thumbprint',
    sim.certificate!.sha256,
  ];
}

async function rpc(socketPath: string, method: string, params: unknown): Promise<JsonRpcReply> {
  const { status, reply } = await call({ socketPath }, method, params);
  assert.equal(status, 200);
  return reply;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

before(async () => {
  sim = await Vcsim.start({ username: 'operator', password: PASSWORD, datacenters: 2 });
  root = await mkdtemp(join(tmpdir(), 'ikv-'));
});

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await sim?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('serve as a child process', () => {
  let served: Served;
  let id: string;

  before(async () => {
    served = await serve(['serve', ...baseArgs()]);
  });
  after(() => {
    served?.child.kill('SIGKILL');
  });

  it('creates an owner-only socket and a pid file naming the process', async () => {
    assert.match(served.output(), /instance-vsphere: infrakit-instance-vsphere \S+ serving on /);
    const stats = await lstat(served.socketPath);
    assert.ok(stats.isSocket());
    assert.equal(stats.mode & 0o777, 0o600);
    assert.equal((await readFile(served.pidPath, 'utf8')).trim(), String(served.child.pid));
  });

  it('answers both handshake generations and names the package version as vendor', async () => {
    assert.deepEqual((await rpc(served.socketPath, 'Handshake.Implements', {})).result, {
      APIs: [{ Name: 'Instance', Version: '0.6.0' }],
    });
    assert.deepEqual((await rpc(served.socketPath, 'Handshake.Types', {})).result, {
      Types: { 'Instance/0.6.0': ['.'] },
    });
    assert.deepEqual((await rpc(served.socketPath, 'Handshake.Hello', {})).result, {
      Objects: { 'Instance/0.6.1': [{ Name: '.', ProxyFor: '' }] },
    });
    const info = JSON.parse((await get({ socketPath: served.socketPath }, '/info/api.json')).body) as {
      Vendor: { Name: string; Version: string };
    };
    assert.equal(info.Vendor.Name, 'infrakit-instance-vsphere');
    assert.equal(info.Vendor.Version, packageVersion());
    assert.notEqual(info.Vendor.Version, 'unknown');
  });

  it('validates properties', async () => {
    const ok = await rpc(served.socketPath, 'Instance.Validate', { Type: '', Properties: PROPERTIES });
    assert.deepEqual(ok.result, { Type: '', OK: true });
    const bad = await rpc(served.socketPath, 'Instance.Validate', {
      Type: '',
      Properties: { ...PROPERTIES, Datastore: 'NoSuchDS' },
    });
    assert.equal(bad.error?.code, -32000);
    assert.match(bad.error!.message, /NoSuchDS/);
  });

  it('provisions within the 2017 client timeout; the VM shows up in DescribeInstances', async () => {
    const started = Date.now();
    const reply = await rpc(served.socketPath, 'Instance.Provision', {
      Type: '',
      Spec: {
        Properties: PROPERTIES,
        Tags: { 'infrakit.group': 'served', 'infrakit.config.hash': 'abc' },
        Init: '',
        LogicalID: null,
        Attachments: null,
      },
    });
    assert.ok(Date.now() - started < 1000, `answered in ${Date.now() - started} ms`);
    id = (reply.result as { ID: string }).ID;
    assert.match(id, /^vm-\d+$/);
    const described = await waitFor('the VM', async () => {
      const r = await rpc(served.socketPath, 'Instance.DescribeInstances', {
        Type: '',
        Tags: { 'infrakit.group': 'served' },
        Properties: false,
      });
      const descriptions = (r.result as { Descriptions: { ID: string; Tags: Record<string, string> }[] })
        .Descriptions;
      const found = descriptions.find((d) => d.ID === id);
      return found && found.Tags['infrakit.state'] === undefined ? found : undefined;
    });
    assert.equal(described.Tags['infrakit.config.hash'], 'abc');
    assert.ok((await sim.listVms()).some((vm) => vm.name === id));
  });

  it('labels it', async () => {
    const reply = await rpc(served.socketPath, 'Instance.Label', {
      Type: '',
      Instance: id,
      Labels: { role: 'leader' },
    });
    assert.deepEqual(reply.result, { Type: '', OK: true });
    const r = await rpc(served.socketPath, 'Instance.DescribeInstances', {
      Type: '',
      Tags: { 'infrakit.group': 'served', role: 'leader' },
      Properties: false,
    });
    assert.deepEqual(
      (r.result as { Descriptions: { ID: string }[] }).Descriptions.map((d) => d.ID),
      [id],
    );
  });

  it('destroys it', async () => {
    const reply = await rpc(served.socketPath, 'Instance.Destroy', {
      Type: '',
      Instance: id,
      Context: { Reason: 'terminate' },
    });
    assert.deepEqual(reply.result, { Type: '', OK: true });
    await waitFor('the VM to go', async () => {
      const r = await rpc(served.socketPath, 'Instance.DescribeInstances', {
        Type: '',
        Tags: { 'infrakit.group': 'served' },
        Properties: false,
      });
      return (r.result as { Descriptions: unknown[] }).Descriptions.length === 0 ? true : undefined;
    });
    assert.ok(!(await sim.listVms()).some((vm) => vm.name === id));
  });

  it('passes the machine-shape keys through unchanged: a pet with a static NIC, a disk and VMX keys', async () => {
    const properties = {
      ...PROPERTIES,
      PowerOn: false,
      CPUs: 2,
      CoresPerSocket: 2,
      Networks: [{ Network: 'VM Network', IPv4FromLogicalID: 24, Gateway4: '10.9.0.1' }],
      Disks: [{ SizeMB: 64, Provisioning: 'thick' }],
      ExtraConfig: { 'disk.EnableUUID': 'TRUE' },
      PowerOffMode: 'hard',
    };
    const bad = await rpc(served.socketPath, 'Instance.Validate', {
      Type: '',
      Properties: { ...properties, Disks: [{ SizeMB: 64, Provisioning: 'thin-ish' }] },
    });
    assert.match(bad.error?.message ?? '', /Properties\.Disks\[0\]\.Provisioning/);
    const spec = {
      Properties: properties,
      Tags: { 'infrakit.group': 'served-pets', 'infrakit.config.hash': 'abc' },
      LogicalID: '10.9.0.7',
    };
    const reply = await rpc(served.socketPath, 'Instance.Provision', { Type: '', Spec: spec });
    assert.equal((reply.result as { ID: string }).ID, 'vm-10.9.0.7');
    const described = await waitFor('the pet', async () => {
      const r = await rpc(served.socketPath, 'Instance.DescribeInstances', {
        Type: '',
        Tags: { 'infrakit.group': 'served-pets' },
        Properties: false,
      });
      const [pet] = (
        r.result as { Descriptions: { ID: string; LogicalID?: string; Tags: Record<string, string> }[] }
      ).Descriptions;
      return pet && pet.Tags['infrakit.state'] === undefined ? pet : undefined;
    });
    assert.equal(described.LogicalID, '10.9.0.7');
    // The same LogicalID again makes nothing.
    const again = await rpc(served.socketPath, 'Instance.Provision', { Type: '', Spec: spec });
    assert.equal((again.result as { ID: string }).ID, 'vm-10.9.0.7');
    const vm = (await sim.listVms()).filter((v) => v.name === 'vm-10.9.0.7');
    assert.equal(vm.length, 1, 'one VM for the LogicalID');
    // Read back by a client of its own, as vCenter has it.
    const reader = new VSphereClient({
      url: sim.urlWithCredentials,
      tls: { insecure: true },
      keepAliveMs: 0,
    });
    try {
      const [info] = await reader.collector.properties(
        [new ManagedObjectReference('VirtualMachine', vm[0]!.moref)],
        ['config.hardware.numCoresPerSocket', 'config.extraConfig', 'config.hardware.device'],
      );
      const props = info!.props;
      assert.equal(props.get('config.hardware.numCoresPerSocket'), 2);
      const extra = Object.fromEntries(
        ((props.get('config.extraConfig') as { key: string; value: string }[]) ?? []).map((o) => [
          o.key,
          o.value,
        ]),
      );
      assert.equal(extra['disk.EnableUUID'], 'TRUE');
      const metadata = JSON.parse(Buffer.from(extra['guestinfo.metadata'] ?? '', 'base64').toString('utf8'));
      assert.equal(metadata['instance-id'], 'vm-10.9.0.7');
      assert.deepEqual(metadata.network.ethernets.id0.addresses, ['10.9.0.7/24']);
      const devices = props.get('config.hardware.device') as {
        _type: string;
        backing?: { thinProvisioned?: boolean };
      }[];
      assert.equal(
        devices.filter((d) => d._type === 'VirtualDisk' && d.backing?.thinProvisioned === false).length,
        1,
        'the thick disk of Disks',
      );
    } finally {
      await reader.close();
    }
    const destroyed = await rpc(served.socketPath, 'Instance.Destroy', {
      Type: '',
      Instance: 'vm-10.9.0.7',
      Context: { Reason: 'terminate' },
    });
    assert.deepEqual(destroyed.result, { Type: '', OK: true });
  });

  it('answers OK to a Destroy of an instance already gone, and an error for a VM it does not manage', async () => {
    // The group controller destroys what it described: gone since is what it asked for.
    for (const gone of [id, 'vm-404']) {
      const reply = await rpc(served.socketPath, 'Instance.Destroy', {
        Type: '',
        Instance: gone,
        Context: { Reason: 'terminate' },
      });
      assert.deepEqual(reply.result, { Type: '', OK: true }, JSON.stringify(reply.error));
    }
    const before = (await sim.listVms()).find((vm) => vm.name === 'DC0_H0_VM1');
    const foreign = await rpc(served.socketPath, 'Instance.Destroy', {
      Type: '',
      Instance: 'DC0_H0_VM1',
      Context: { Reason: 'terminate' },
    });
    assert.equal(foreign.result, undefined);
    assert.equal(foreign.error?.code, -32000);
    assert.match(foreign.error?.message ?? '', /VM "DC0_H0_VM1" is not managed by InfraKit/);
    assert.deepEqual(
      (await sim.listVms()).find((vm) => vm.name === 'DC0_H0_VM1'),
      before,
      'untouched',
    );
  });

  it('logs one line per call on stderr at the default level, without the password', () => {
    const output = served.output();
    assert.match(output, /infrakit:vsphere:plugin .*Instance\.Provision/);
    assert.ok(!output.includes(PASSWORD));
  });

  it('refuses a second server on the same socket (exit 1), naming the live pid', async () => {
    const second = await serveIn(served.dir, ['serve', ...baseArgs()], {}, 'instance-vsphere');
    const { code } = await second.exited;
    assert.equal(code, 1, second.output());
    assert.match(second.output(), new RegExp(`in use by pid ${served.child.pid}`));
    assert.ok(existsSync(served.socketPath), 'the live socket is untouched');
  });

  it('on SIGTERM removes the socket and the pid file and exits 0', async () => {
    served.child.kill('SIGTERM');
    const { code, signal } = await served.exited;
    assert.equal(signal, null, served.output());
    assert.equal(code, 0, served.output());
    assert.ok(!existsSync(served.socketPath));
    assert.ok(!existsSync(served.pidPath));
    assert.match(served.output(), /stopped; removed /);
  });
});

describe('serve with --config subtypes and --listen', () => {
  it('serves one provider per subtype, chosen by Type; also on loopback TCP; SIGINT stops it', async () => {
    const configPath = join(root, 'subtypes.json');
    await writeFile(join(root, 'dc1.pw'), `${PASSWORD}\n`);
    await writeFile(
      configPath,
      JSON.stringify({
        subtypes: {
          '': { datacenter: 'DC0', hostname: 'DC0_H0' },
          dc1: {
            url: sim.sdkUrl,
            username: 'operator',
            passwordFile: 'dc1.pw',
            thumbprint: sim.certificate!.sha256,
            datacenter: 'DC1',
            hostname: 'DC1_H0',
            vmPrefix: 'dc1',
          },
        },
      }),
    );
    const served = await serve(
      [
        'serve',
        '--name',
        'vsphere',
        '--url',
        sim.sdkUrl,
        '--username',
        'operator',
        '--thumbprint',
        sim.certificate!.sha256,
        '--datastore',
        'LocalDS_0',
        '--config',
        configPath,
        '--listen',
        '127.0.0.1:0',
        '--log-level',
        'error',
      ],
      {},
      'vsphere',
    );
    try {
      assert.deepEqual((await rpc(served.socketPath, 'Handshake.Types', {})).result, {
        Types: { 'Instance/0.6.0': ['.', 'dc1'] },
      });
      const unknown = await rpc(served.socketPath, 'Instance.Validate', {
        Type: 'dc9',
        Properties: PROPERTIES,
      });
      assert.equal(unknown.error?.message, 'no-plugin:dc9');

      const port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(served.output())?.[1]);
      assert.ok(port > 0, served.output());
      const overTcp = await postTcp(port, {
        jsonrpc: '2.0',
        method: 'Instance.Provision',
        params: {
          Type: 'dc1',
          Spec: {
            Properties: { Template: 'DC1_H0_VM0', PowerOn: false },
            Tags: { 'infrakit.group': 'tcp', 'infrakit.config.hash': 'h' },
          },
        },
        id: 7,
      });
      const id = (overTcp.result as { ID: string }).ID;
      assert.match(id, /^dc1-\d+$/);
      await waitFor('the DC1 VM', async () => {
        const r = await rpc(served.socketPath, 'Instance.DescribeInstances', {
          Type: 'dc1',
          Tags: { 'infrakit.group': 'tcp' },
          Properties: true,
        });
        const [d] = (r.result as { Descriptions: { ID: string; Properties?: { Datacenter: string } }[] })
          .Descriptions;
        return d?.Properties?.Datacenter === '/DC1' ? d : undefined;
      });
      const inDefault = await rpc(served.socketPath, 'Instance.DescribeInstances', {
        Type: '',
        Tags: { 'infrakit.group': 'tcp' },
        Properties: false,
      });
      assert.deepEqual((inDefault.result as { Descriptions: unknown[] }).Descriptions, []);
      const destroyed = await rpc(served.socketPath, 'Instance.Destroy', {
        Type: 'dc1',
        Instance: id,
        Context: { Reason: 'terminate' },
      });
      assert.deepEqual(destroyed.result, { Type: 'dc1', OK: true });
      assert.doesNotMatch(served.output(), /infrakit:vsphere:plugin/, '--log-level error logs no calls');
    } finally {
      served.child.kill('SIGINT');
    }
    const { code } = await served.exited;
    assert.equal(code, 0, served.output());
    assert.ok(!existsSync(served.socketPath));
    assert.ok(!existsSync(served.pidPath));
  });
});

describe('serve start-up failures', () => {
  it('a refused login exits 4 before any socket exists', async () => {
    const served = await serve(['serve', ...baseArgs()], { VCPASSWORD: 'wrong-password' });
    const { code } = await served.exited;
    assert.equal(code, 4, served.output());
    assert.match(served.output(), /cannot log in to https:\/\/127\.0\.0\.1:\d+\/sdk: .*LOGIN_FAILED/);
    assert.ok(!served.output().includes('wrong-password'));
    assert.ok(!existsSync(served.socketPath));
  });

  it('a bad config file exits 2', async () => {
    const path = join(root, 'bad-config.json');
    await writeFile(path, '{"subtypes": {"x": {"ur1": "https://vc/sdk"}}}');
    const served = await serve(['serve', '--config', path]);
    const { code } = await served.exited;
    assert.equal(code, 2, served.output());
    assert.match(served.output(), /ur1: unknown key \(did you mean url\?\)/);
  });
});

function postTcp(port: number, body: unknown): Promise<JsonRpcReply> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/',
        agent: false,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as JsonRpcReply));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

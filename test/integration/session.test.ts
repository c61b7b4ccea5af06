/**
 * The foundation against vcsim: login/logout, typed login failure, transparent renewal of an
 * expired session, a 2,000-VM retrieve, annotation round trips, a polymorphic CreateVM read
 * back, typed faults, TLS trust modes, and no secret in any debug line.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import createDebug from 'debug';
import { HttpTransport, VSphereClient } from '../../src/blocks.ts';
import {
  LoginError,
  ManagedObjectReference,
  SessionClosedError,
  TlsError,
  VimFault,
} from '../../src/index.ts';
import type { HttpRequest, HttpResponse } from '../../src/transport/http.ts';
import { Vcsim } from '../vcsim/vcsim.ts';

const PASSWORD = 'S3cret-P@ss:/%word';
const captured: string[] = [];
const cookies = new Set<string>();

// Capture every debug line of the whole file, with every namespace on.
createDebug.enable('infrakit:*');
createDebug.log = (...args: unknown[]) => {
  captured.push(args.map(String).join(' '));
};

/** Records the session cookies vcsim hands out, so the test can look for them in the logs. */
class RecordingTransport extends HttpTransport {
  override async request(req: HttpRequest): Promise<HttpResponse> {
    const response = await super.request(req);
    for (const line of response.headers['set-cookie'] ?? []) {
      const value = /vmware_soap_session=([^;]+)/.exec(line)?.[1];
      if (value) cookies.add(value.replace(/^"|"$/g, ''));
    }
    return response;
  }
}

let sim: Vcsim;

function newClient(options: { password?: string; keepAliveMs?: number } = {}): VSphereClient {
  return new VSphereClient({
    url: sim.sdkUrl,
    username: 'admin',
    password: options.password ?? PASSWORD,
    transport: new RecordingTransport({ url: sim.sdkUrl, tls: { thumbprint: sim.certificate!.sha256 } }),
    keepAliveMs: options.keepAliveMs ?? 0,
  });
}

before(async () => {
  sim = await Vcsim.start({ username: 'admin', password: PASSWORD });
});
after(async () => {
  await sim?.stop();
});

describe('session', () => {
  it('logs in once for concurrent first calls and logs out on close', async () => {
    const client = newClient();
    const content = await client.session.serviceContent();
    assert.equal(content.about.apiType, 'VirtualCenter');
    const times = await Promise.all(
      Array.from({ length: 5 }, () =>
        client.session.invoke<string>('CurrentTime', {
          _this: new ManagedObjectReference('ServiceInstance', 'ServiceInstance'),
        }),
      ),
    );
    assert.equal(times.length, 5);
    for (const t of times) assert.ok(!Number.isNaN(Date.parse(t)), `CurrentTime returned ${t}`);
    assert.equal(client.session.stats.logins, 1);
    await client.close();
    assert.equal(client.session.stats.logouts, 1);
    await assert.rejects(
      client.session.invoke('CurrentTime', {
        _this: new ManagedObjectReference('ServiceInstance', 'ServiceInstance'),
      }),
      SessionClosedError,
    );
  });

  it('rejects a wrong password with a typed error that does not carry the password', async () => {
    const client = newClient({ password: 'wrong-password-123' });
    const error = await client.connect().then(
      () => assert.fail('login with a wrong password succeeded'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof LoginError, `expected LoginError, got ${String(error)}`);
    assert.equal(error.code, 'LOGIN_FAILED');
    assert.equal(error.faultType, 'InvalidLogin');
    assert.ok(!error.message.includes('wrong-password-123'));
    await client.close();
  });

  it('renews a session that was terminated behind its back, transparently', async () => {
    const client = newClient();
    const admin = newClient();
    await client.connect();
    const content = await client.session.serviceContent();
    const current = await client.collector.property<{ key: string }>(
      content.sessionManager!,
      'currentSession',
    );
    assert.ok(current?.key, 'currentSession.key is readable');
    await admin.session.invoke('TerminateSession', {
      _this: content.sessionManager,
      sessionId: [current.key],
    });
    const dcs = await client.collector.find(content.rootFolder, 'Datacenter', ['name']);
    assert.equal(dcs.length, 1);
    assert.equal(client.session.stats.relogins, 1);
    await client.close();
    await admin.close();
  });

  it('renews a session that expired idle (vcsim session timeout)', async () => {
    const short = await Vcsim.start({ sessionTimeout: '1s', vms: 0 });
    try {
      const client = new VSphereClient({
        url: short.urlWithCredentials,
        tls: { insecure: true },
        keepAliveMs: 0,
      });
      const content = await client.session.serviceContent();
      await client.connect();
      await new Promise((resolve) => setTimeout(resolve, 2600));
      const dcs = await client.collector.find(content.rootFolder, 'Datacenter', ['name']);
      assert.equal(dcs.length, 1);
      assert.equal(client.session.stats.relogins, 1, 'the expired session was renewed once');
      await client.close();
    } finally {
      await short.stop();
    }
  });
});

describe('property collector', () => {
  it('retrieves every one of 2,000 VMs exactly once', async () => {
    const client = newClient();
    const content = await client.session.serviceContent();
    await sim.createVms(2000 - (await sim.listVms()).length);
    const expected = await sim.listVms();
    assert.ok(expected.length >= 2000, `vcsim has ${expected.length} VMs`);
    const vms = await client.collector.find(
      content.rootFolder,
      'VirtualMachine',
      ['name', 'runtime.powerState'],
      { pageSize: 250 },
    );
    assert.equal(vms.length, expected.length);
    const names = new Set(vms.map((v) => v.props.get('name')));
    assert.equal(names.size, expected.length, 'no VM twice');
    for (const vm of expected) assert.ok(names.has(vm.name), `missing ${vm.name}`);
    for (const vm of vms)
      assert.match(String(vm.props.get('runtime.powerState')), /^powered(On|Off)$|^suspended$/);
    await client.close();
  });
});

describe('vim25 over the wire', () => {
  let client: VSphereClient;
  let vm: ManagedObjectReference;
  before(async () => {
    client = newClient();
    const [first] = await sim.listVms();
    vm = new ManagedObjectReference('VirtualMachine', first!.moref);
  });
  after(async () => client?.close());

  for (const text of [
    '   ',
    '<&"\'>',
    'line1\r\nline2\r\n',
    ']]>',
    'naïve – 日本語 – 🚀',
    '\ttab\nnewline\n',
    'a'.repeat(5000),
  ]) {
    it(`round-trips the annotation ${JSON.stringify(text.length > 40 ? `${text.slice(0, 20)}…` : text)}`, async () => {
      const task = await client.session.invoke<ManagedObjectReference>('ReconfigVM_Task', {
        _this: vm,
        spec: { annotation: text },
      });
      await client.tasks.wait(task);
      assert.equal(await client.collector.property<string>(vm, 'config.annotation'), text);
    });
  }

  it('creates a VM with a CD-ROM, pvscsi and vmxnet3 and reads every device back', async () => {
    const content = await client.session.serviceContent();
    const [dc] = await client.collector.find(content.rootFolder, 'Datacenter', [
      'vmFolder',
      'datastore',
      'network',
    ]);
    const vmFolder = dc!.props.get('vmFolder') as ManagedObjectReference;
    const [pool] = await client.collector.find(content.rootFolder, 'ResourcePool', ['name']);
    const [network] = (await client.collector.find(content.rootFolder, 'Network', ['name'])).filter(
      (n) => n.obj.type === 'Network',
    );
    const config = {
      _type: 'VirtualMachineConfigSpec',
      name: 'codec-createvm',
      guestId: 'otherLinux64Guest',
      files: { vmPathName: '[LocalDS_0]' },
      numCPUs: 2,
      memoryMB: 512,
      deviceChange: [
        {
          operation: 'add',
          device: { _type: 'ParaVirtualSCSIController', key: -10, busNumber: 0, sharedBus: 'noSharing' },
        },
        {
          operation: 'add',
          device: {
            _type: 'VirtualCdrom',
            key: -11,
            controllerKey: 200,
            unitNumber: 0,
            backing: { _type: 'VirtualCdromIsoBackingInfo', fileName: '[LocalDS_0] iso/linuxkit.iso' },
            connectable: { startConnected: true, allowGuestControl: true, connected: true },
          },
        },
        {
          operation: 'add',
          device: {
            _type: 'VirtualVmxnet3',
            key: -12,
            addressType: 'generated',
            backing: {
              _type: 'VirtualEthernetCardNetworkBackingInfo',
              deviceName: network!.props.get('name'),
              network: network!.obj,
            },
          },
        },
      ],
    };
    const task = await client.session.invoke<ManagedObjectReference>('CreateVM_Task', {
      _this: vmFolder,
      config,
      pool: pool!.obj,
    });
    const created = await client.tasks.wait<ManagedObjectReference>(task);
    assert.equal(created.type, 'VirtualMachine');
    const devices =
      (await client.collector.property<Record<string, unknown>[]>(created, 'config.hardware.device')) ?? [];
    const byType = (t: string) => devices.filter((d) => d._type === t);
    assert.equal(byType('ParaVirtualSCSIController').length, 1);
    const [cdrom] = byType('VirtualCdrom');
    assert.ok(cdrom, 'a VirtualCdrom exists');
    assert.equal((cdrom.backing as Record<string, unknown>)._type, 'VirtualCdromIsoBackingInfo');
    assert.equal((cdrom.backing as Record<string, unknown>).fileName, '[LocalDS_0] iso/linuxkit.iso');
    assert.equal(cdrom.controllerKey, 200);
    const [nic] = byType('VirtualVmxnet3');
    assert.ok(nic, 'a VirtualVmxnet3 exists');
    const backing = nic.backing as Record<string, unknown>;
    assert.equal(backing._type, 'VirtualEthernetCardNetworkBackingInfo');
    assert.ok(backing.network instanceof ManagedObjectReference && backing.network.equals(network!.obj));
    assert.equal(await client.collector.property<number>(created, 'config.hardware.numCPU'), 2);
    await client.tasks.wait(
      await client.session.invoke<ManagedObjectReference>('Destroy_Task', { _this: created }),
    );
  });

  it('surfaces DuplicateName as a typed VimFault', async () => {
    const content = await client.session.serviceContent();
    const [dc] = await client.collector.find(content.rootFolder, 'Datacenter', ['vmFolder']);
    const vmFolder = dc!.props.get('vmFolder') as ManagedObjectReference;
    const folder = await client.session.invoke<ManagedObjectReference>('CreateFolder', {
      _this: vmFolder,
      name: 'dup-test',
    });
    assert.equal(folder.type, 'Folder');
    const error = await client.session.invoke('CreateFolder', { _this: vmFolder, name: 'dup-test' }).then(
      () => assert.fail('second CreateFolder succeeded'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof VimFault);
    assert.equal(error.code, 'VIM_FAULT');
    assert.equal(error.faultType, 'DuplicateName');
    assert.ok(error.is('VimFault') && error.is('MethodFault'));
  });
});

describe('TLS', () => {
  const currentTime = (client: VSphereClient) =>
    client.session.invoke<string>('CurrentTime', {
      _this: new ManagedObjectReference('ServiceInstance', 'ServiceInstance'),
    });

  it('rejects the self-signed certificate by default', async () => {
    const client = new VSphereClient({
      url: sim.sdkUrl,
      username: 'admin',
      password: PASSWORD,
      keepAliveMs: 0,
    });
    const error = await currentTime(client).then(
      () => assert.fail('untrusted certificate accepted'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof TlsError, `expected TlsError, got ${String(error)}`);
    assert.equal(error.code, 'TLS_UNTRUSTED');
    assert.equal(error.sha256, sim.certificate!.sha256, 'the error names the thumbprint to pin');
    assert.ok(error.message.includes(sim.certificate!.sha256));
    await client.close();
  });

  for (const algorithm of ['sha256', 'sha1'] as const) {
    it(`accepts the certificate pinned by its ${algorithm} thumbprint`, async () => {
      const thumbprint =
        algorithm === 'sha256'
          ? sim.certificate!.sha256
          : sim.certificate!.sha1.replace(/:/g, '').toLowerCase();
      const client = new VSphereClient({
        url: sim.sdkUrl,
        username: 'admin',
        password: PASSWORD,
        tls: { thumbprint },
        keepAliveMs: 0,
      });
      assert.ok(!Number.isNaN(Date.parse(await currentTime(client))));
      await client.close();
    });
  }

  it('rejects a wrong thumbprint before sending anything', async () => {
    const wrong = sim.certificate!.sha256.replace(
      /^../,
      sim.certificate!.sha256.startsWith('00') ? '11' : '00',
    );
    const transport = new HttpTransport({ url: sim.sdkUrl, tls: { thumbprint: wrong } });
    const client = new VSphereClient({
      url: sim.sdkUrl,
      username: 'admin',
      password: PASSWORD,
      transport,
      keepAliveMs: 0,
    });
    const error = await currentTime(client).then(
      () => assert.fail('wrong thumbprint accepted'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof TlsError);
    assert.equal(error.code, 'TLS_THUMBPRINT_MISMATCH');
    assert.equal(error.sha256, sim.certificate!.sha256);
    await client.close();
  });

  it('accepts the certificate given as a CA bundle', async () => {
    const client = new VSphereClient({
      url: sim.sdkUrl,
      username: 'admin',
      password: PASSWORD,
      tls: { ca: sim.certificate!.pem },
      keepAliveMs: 0,
    });
    assert.ok(!Number.isNaN(Date.parse(await currentTime(client))));
    await client.close();
  });

  it('accepts anything only when insecure is asked for', async () => {
    const client = new VSphereClient({
      url: sim.sdkUrl,
      username: 'admin',
      password: PASSWORD,
      tls: { insecure: true },
      keepAliveMs: 0,
    });
    assert.ok(!Number.isNaN(Date.parse(await currentTime(client))));
    await client.close();
  });
});

describe('secrets', () => {
  it('no debug line of this file carries the password or a session cookie', () => {
    assert.ok(captured.length > 20, `debug output was captured (${captured.length} lines)`);
    assert.ok(cookies.size > 0, 'session cookies were seen on the wire');
    const encoded = encodeURIComponent(PASSWORD);
    for (const line of captured) {
      assert.ok(!line.includes(PASSWORD) && !line.includes(encoded), `password in: ${line.slice(0, 200)}`);
      for (const cookie of cookies)
        assert.ok(!line.includes(cookie), `session cookie in: ${line.slice(0, 200)}`);
    }
  });
});

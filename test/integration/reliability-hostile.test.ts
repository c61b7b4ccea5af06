/**
 * Hostile input, table-driven (issue 6, item 5): properties of every wrong type and size, unknown
 * keys, names with / % \ " and control characters, annotations edited by hand into garbage or
 * huge, another tool's VM with an instance's name, malformed and oversized JSON-RPC bodies, and
 * malformed SOAP answers forged by the fault proxy (truncated, wrong types, unexpected elements,
 * DOCTYPE and entity tricks). Every case ends in a typed error (a VSphereError with a `code`, or
 * a JSON-RPC error object) or a correct answer; the process stays up; and vCenter holds exactly
 * what it held before, except what a case was meant to make.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ManagedObjectReference,
  PluginServer,
  VSphereError,
  type VSphereInstanceProvider,
} from '../../src/index.ts';
import { postRaw } from '../plugin/rpc-client.ts';
import type { Fault } from '../reliability/fault-proxy.ts';
import {
  cloneProps,
  describeError,
  groupTags,
  PASSWORD,
  type Rig,
  settle,
  startRig,
  vmNamesInFolder,
} from '../reliability/harness.ts';
import { SecretWatch } from '../reliability/secrets.ts';

const watch = new SecretWatch().captureDebug().secret(PASSWORD);
let rig: Rig;
let provider: VSphereInstanceProvider;
let server: PluginServer;
let socketDir: string;
let socketPath: string;
let cases = 0;

before(async () => {
  rig = await startRig();
  watch.cookiesFrom(rig.proxy);
  provider = rig.provider();
  server = new PluginServer({ plugins: { '': provider }, answerWithinMs: 2000, maxBodyBytes: 64 * 1024 });
  socketDir = await mkdtemp(join(tmpdir(), 'ikv-hostile-'));
  socketPath = join(socketDir, 'vsphere');
  await server.listen({ socketPath });
});
after(async () => {
  await server?.close();
  await rig?.close();
  if (socketDir) await rm(socketDir, { recursive: true, force: true });
});

/** What vCenter holds: every VM's name, parent, power state and notes, and every folder name. */
async function inventory(): Promise<string[]> {
  const vms = (await rig.sim.listVms()).map(
    (vm) => `vm ${vm.name} in ${vm.parent} ${vm.powerState} ${JSON.stringify(vm.annotation ?? '')}`,
  );
  const content = await rig.admin.session.serviceContent();
  const folders = (await rig.admin.collector.find(content.rootFolder, 'Folder', ['name'])).map(
    (f) => `folder ${String(f.props.get('name'))}`,
  );
  return [...vms, ...folders].sort();
}

/** Runs `fn`, checks it threw a VSphereError whose code is `code` (or returned, when `code` is undefined). */
async function expectOutcome(
  what: string,
  fn: () => Promise<unknown>,
  code: string | undefined,
): Promise<unknown> {
  cases += 1;
  const outcome = await settle(fn());
  if (code === undefined) {
    assert.ok(outcome.ok, `${what}: expected success, got ${outcome.ok ? '' : describeError(outcome.error)}`);
    return outcome.value;
  }
  assert.equal(outcome.ok, false, `${what}: expected a ${code} error, it succeeded`);
  if (outcome.ok) return undefined;
  watch.error(what, outcome.error);
  assert.ok(outcome.error instanceof VSphereError, `${what}: untyped ${describeError(outcome.error)}`);
  assert.equal(outcome.error.code, code, `${what}: ${describeError(outcome.error)}`);
  assert.ok(outcome.error.message.length < 20_000, `${what}: the message is bounded`);
  return outcome.error;
}

function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

// ---------------------------------------------------------------------------------------------

describe('properties of every wrong type and size, and unknown keys', () => {
  const table: [string, unknown, string][] = [
    ['CPUs as a word', { ...cloneProps, CPUs: 'many' }, 'VALIDATION'],
    ['CPUs negative', { ...cloneProps, CPUs: -1 }, 'VALIDATION'],
    ['CPUs fractional', { ...cloneProps, CPUs: 1.5 }, 'VALIDATION'],
    ['CPUs huge', { ...cloneProps, CPUs: 1e9 }, 'VALIDATION'],
    ['CPUs NaN', { ...cloneProps, CPUs: Number.NaN }, 'VALIDATION'],
    ['CPUs Infinity', { ...cloneProps, CPUs: Number.POSITIVE_INFINITY }, 'VALIDATION'],
    ['Memory a boolean', { ...cloneProps, Memory: true }, 'VALIDATION'],
    ['Memory an array', { ...cloneProps, Memory: [1024] }, 'VALIDATION'],
    ['Memory an object', { ...cloneProps, Memory: { mb: 1024 } }, 'VALIDATION'],
    ['Memory not a multiple of 4', { ...cloneProps, Memory: 1023 }, 'VALIDATION'],
    ['Template a number', { ...cloneProps, Template: 42 }, 'VALIDATION'],
    ['Template 100 000 characters', { ...cloneProps, Template: 't'.repeat(100_000) }, 'VALIDATION'],
    ['Template with a NUL', { ...cloneProps, Template: 'DC0\u0000H0' }, 'VALIDATION'],
    ['Datastore an array', { ...cloneProps, Datastore: ['LocalDS_0'] }, 'VALIDATION'],
    ['Hostname an object', { ...cloneProps, Hostname: {} }, 'VALIDATION'],
    ['PowerOn a string', { ...cloneProps, PowerOn: 'yes' }, 'VALIDATION'],
    ['Properties a string', 'Template=DC0_H0_VM0', 'VALIDATION'],
    ['Properties an array', [cloneProps], 'VALIDATION'],
    ['Properties null (no source)', null, 'VALIDATION'],
    ['Properties nested 10 000 deep', { ...cloneProps, Extra: nested(10_000) }, 'VALIDATION'],
    ['an unknown key', { ...cloneProps, Bogus: 1 }, 'VALIDATION'],
    ['an unknown key that differs only in case', { ...cloneProps, template: 'x' }, 'VALIDATION'],
    ['a __proto__ key', JSON.parse(`{"Template":"DC0_H0_VM0","__proto__":{"polluted":"yes"}}`), 'VALIDATION'],
    ['a constructor key', { ...cloneProps, constructor: { prototype: { polluted: 'yes' } } }, 'VALIDATION'],
    ['Annotation over 16 KiB', { ...cloneProps, Annotation: 'n'.repeat(20_000) }, 'VALIDATION'],
    ['Annotation with U+0000', { ...cloneProps, Annotation: 'a\u0000b' }, 'VALIDATION'],
    ['Annotation with a lone surrogate', { ...cloneProps, Annotation: 'a\ud800b' }, 'VALIDATION'],
    ['VMPrefix with a slash', { ...cloneProps, VMPrefix: 'a/b' }, 'VALIDATION'],
    ['VMPrefix 60 characters', { ...cloneProps, VMPrefix: 'p'.repeat(60) }, 'VALIDATION'],
    ['Template and ISOPath both', { ...cloneProps, ISOPath: 'iso/x.iso' }, 'VALIDATION'],
    ['a network that does not exist', { ...cloneProps, Network: 'No Such Network' }, 'NOT_FOUND'],
    ['a template that does not exist', { ...cloneProps, Template: 'NoSuchTemplate' }, 'NOT_FOUND'],
  ];
  for (const [name, properties, code] of table) {
    it(`${name}: ${code}, nothing made`, async () => {
      const before = await inventory();
      const tags = groupTags('hostile-props');
      await expectOutcome(
        `provision with ${name}`,
        () => provider.provision({ Tags: tags, Properties: properties as never }),
        code,
      );
      assert.deepEqual(await inventory(), before, 'vCenter is unchanged');
      assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
    });
  }

  it('validate names every problem of one bad property set at once', async () => {
    const error = (await expectOutcome(
      'validate',
      () => provider.validate({ CPUs: 'x', Memory: true, Template: 42, Bogus: 1 }),
      'VALIDATION',
    )) as { issues: { field: string }[] };
    const fields = error.issues.map((i) => i.field).join(' ');
    for (const field of ['CPUs', 'Memory', 'Template', 'Bogus']) assert.match(fields, new RegExp(field));
  });
});

// ---------------------------------------------------------------------------------------------

describe('names with / % \\ " and control characters', () => {
  const refused: [string, Record<string, string>][] = [
    ['a group with a slash', groupTags('a/b')],
    ['a group with a percent', groupTags('100%')],
    ['a group with a backslash', groupTags('back\\slash')],
    ['a group with an escape sequence', groupTags('a%2fb')],
    ['a group with a tab', groupTags('tab\there')],
    ['a group with a newline', groupTags('new\nline')],
    ['a group with a BEL', groupTags('\u0007bell')],
    ['a group with an ANSI escape', groupTags('\u001b[31mred')],
    ['a group with padding', groupTags(' padded ')],
    ['a hash with a newline', groupTags('hostile-names', 'h\nh')],
    ['a tag name with U+0000', { ...groupTags('hostile-names'), 'a\u0000b': 'v' }],
    ['a tag value with U+FFFF', { ...groupTags('hostile-names'), key: 'v\uffff' }],
    ['an empty tag name', { ...groupTags('hostile-names'), '': 'v' }],
  ];
  for (const [name, tags] of refused) {
    it(`${name}: VALIDATION, nothing made`, async () => {
      const before = await inventory();
      await expectOutcome(
        `provision into ${name}`,
        () => provider.provision({ Tags: tags, Properties: cloneProps }),
        'VALIDATION',
      );
      assert.deepEqual(await inventory(), before);
    });
  }

  for (const group of ['quo"te', '<xml>&amp;', "it's", 'naïve 日本 🚀', 'x'.repeat(80)]) {
    it(`group ${JSON.stringify(group.length > 20 ? `${group.slice(0, 10)}…` : group)} works end to end`, async () => {
      cases += 1;
      const tags = groupTags(group);
      const id = await provider.provision({ Tags: tags, Properties: cloneProps });
      await provider.label(id, { 'k/%\\"<>': 'v/%\\"<>&' });
      const described = await provider.describe({ ...tags, 'k/%\\"<>': 'v/%\\"<>&' });
      assert.deepEqual(
        described.map((d) => d.ID),
        [id],
      );
      assert.equal(described[0]!.Tags['infrakit.group'], group);
      await provider.destroy(id);
      assert.deepEqual(await provider.describe(tags), []);
    });
  }

  // [instance id, expected code]: an ID no VM has is NOT_FOUND, another tool's VM NOT_MANAGED
  const ids: [string, string][] = [
    ['', 'VALIDATION'],
    ['../../etc/passwd', 'NOT_FOUND'],
    ['vm-1/../../x', 'NOT_FOUND'],
    ['a\u0000b', 'VIM25_INVALID_XML_CHAR'],
    ['DC0_H0_VM1', 'NOT_MANAGED'],
    ['%2f', 'NOT_FOUND'],
    ['x'.repeat(5000), 'NOT_FOUND'],
  ];
  for (const [id, code] of ids) {
    it(`destroy of instance ${JSON.stringify(id.slice(0, 20))}: ${code}, nothing is touched`, async () => {
      const before = await inventory();
      await expectOutcome(`destroy ${id.slice(0, 20)}`, () => provider.destroy(id), code);
      assert.deepEqual(await inventory(), before);
    });
  }
});

// ---------------------------------------------------------------------------------------------

describe('annotations edited by hand', () => {
  const group = 'hand-edited';
  // [case, notes written over ours, still described as an instance of the group, label outcome]
  const table: [string, string, boolean, string | undefined][] = [
    ['one line of garbage', '#$%^&*()_+{}|:"<>?~`', false, 'NOT_FOUND'],
    [
      'random printable noise',
      Array.from({ length: 300 }, (_, i) => String.fromCharCode(33 + ((i * 37) % 90))).join(''),
      false,
      'NOT_FOUND',
    ],
    ['"Deleted by InfraKit"', 'Deleted by InfraKit', false, 'NOT_FOUND'],
    ['the group line only', group, false, 'NOT_FOUND'],
    ['an empty hash line', `${group}\n\nrest`, false, 'NOT_FOUND'],
    ['a control character in the group line', `${group}\u0085\nhash`, false, 'NOT_FOUND'],
    ['the original plugin format', `${group}\nhash-1\nnotes`, true, undefined],
    ['Windows line ends', `${group}\r\nhash-1\r\nnotes\r\n`, true, undefined],
    ['a broken marker line', `${group}\nhash-1\ninfrakit-vsphere/v1 {"tags":`, true, undefined],
    [
      'marker tags of the wrong type',
      `${group}\nhash-1\ninfrakit-vsphere/v1 {"tags":{"a":1,"b":[2]}}`,
      true,
      undefined,
    ],
    [
      'a __proto__ tag in the marker',
      `${group}\nhash-1\ninfrakit-vsphere/v1 {"tags":{"__proto__":{"polluted":"yes"}}}`,
      true,
      undefined,
    ],
    [
      'a future format version',
      `${group}\nhash-1\ninfrakit-vsphere/v999999 {"tags":{"x":"y"}}`,
      true,
      undefined,
    ],
    ['200 000 characters of notes', `${group}\nhash-1\n${'huge '.repeat(40_000)}`, true, 'ANNOTATION'],
    ['another group', `other-group\nhash-1`, false, undefined],
  ];
  for (const [name, notes, described, labelCode] of table) {
    it(`${name}: describe does not throw${described ? ' and still lists it' : ' and skips it'}; label ${labelCode ?? 'works'}; destroy touches only an instance`, async () => {
      const tags = groupTags(group);
      const id = await provider.provision({ Tags: tags, Properties: cloneProps });
      const vm = (await rig.sim.listVms()).find((v) => v.name === id)!;
      const ref = new ManagedObjectReference('VirtualMachine', vm.moref);
      await rig.admin.tasks.wait(
        await rig.admin.session.invoke<ManagedObjectReference>('ReconfigVM_Task', {
          _this: ref,
          spec: { annotation: notes },
        }),
      );
      const list = (await expectOutcome(
        `describe with ${name}`,
        () => provider.describe(tags),
        undefined,
      )) as {
        ID: string;
      }[];
      assert.equal(
        list.some((d) => d.ID === id),
        described,
      );
      await expectOutcome(`label with ${name}`, () => provider.label(id, { edited: 'yes' }), labelCode);
      const before = await inventory();
      const owned = described || name === 'another group';
      // Notes that say the instance was destroyed (ignore-on-destroy): it is gone. Any other
      // notes: the VM is not InfraKit's, and destroy says so.
      const destroyCode = owned ? undefined : notes === 'Deleted by InfraKit' ? 'NOT_FOUND' : 'NOT_MANAGED';
      await expectOutcome(`destroy with ${name}`, () => provider.destroy(id), destroyCode);
      if (owned) {
        assert.equal(
          (await rig.sim.listVms()).some((v) => v.name === id),
          false,
          'an instance (of any group) is destroyed',
        );
      } else {
        assert.deepEqual(await inventory(), before, 'a VM whose notes are not ours is left alone');
        await rig.admin.tasks.wait(
          await rig.admin.session.invoke<ManagedObjectReference>('Destroy_Task', { _this: ref }),
        );
      }
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  }
});

// ---------------------------------------------------------------------------------------------

describe("another tool's VM with an instance's name", () => {
  it('describe lists only ours; destroy removes only ours, then says NOT_MANAGED; label then says NOT_FOUND', async () => {
    cases += 1;
    const tags = groupTags('name-clash');
    const id = await provider.provision({ Tags: tags, Properties: cloneProps });
    const content = await rig.admin.session.serviceContent();
    const [dc] = await rig.admin.collector.find(content.rootFolder, 'Datacenter', ['vmFolder']);
    const [pool] = await rig.admin.collector.find(content.rootFolder, 'ResourcePool', ['name']);
    const foreign = await rig.admin.tasks.wait<ManagedObjectReference>(
      await rig.admin.session.invoke<ManagedObjectReference>('CreateVM_Task', {
        _this: dc!.props.get('vmFolder') as ManagedObjectReference,
        config: {
          _type: 'VirtualMachineConfigSpec',
          name: id,
          guestId: 'otherLinux64Guest',
          files: { vmPathName: '[LocalDS_0]' },
          annotation: 'made by another tool',
        },
        pool: pool!.obj,
      }),
    );
    assert.deepEqual(
      (await provider.describe(tags)).map((d) => d.ID),
      [id],
    );
    await provider.destroy(id);
    const left = (await rig.sim.listVms()).filter((v) => v.name === id);
    assert.deepEqual(
      left.map((v) => v.moref),
      [foreign.value],
      'only the other tool’s VM is left',
    );
    const refused = (await expectOutcome(
      'destroy of the foreign VM',
      () => provider.destroy(id),
      'NOT_MANAGED',
    )) as {
      instanceId: string;
      vms: string[];
    };
    assert.equal(refused.instanceId, id);
    assert.deepEqual(refused.vms, [foreign.value]);
    assert.equal((await rig.sim.listVms()).filter((v) => v.name === id).length, 1, 'still there');
    await expectOutcome('label of the foreign VM', () => provider.label(id, { x: 'y' }), 'NOT_FOUND');
    assert.equal((await rig.sim.listVms()).find((v) => v.name === id)?.annotation, 'made by another tool');
  });

  it('two VMs with our notes and one name: AMBIGUOUS, neither touched', async () => {
    cases += 1;
    const tags = groupTags('name-twins');
    const id = await provider.provision({ Tags: tags, Properties: cloneProps });
    const other = await provider.provision({ Tags: groupTags('name-twins-2'), Properties: cloneProps });
    const vm = (await rig.sim.listVms()).find((v) => v.name === other)!;
    await rig.admin.tasks.wait(
      await rig.admin.session.invoke<ManagedObjectReference>('Rename_Task', {
        _this: new ManagedObjectReference('VirtualMachine', vm.moref),
        newName: id,
      }),
    );
    // A fresh provider knows no group folder, so it searches the datacenter and finds both;
    // the one that made them finds one in each of its group folders.
    const fresh = rig.provider();
    const before = await inventory();
    await expectOutcome('destroy of a twice-used name', () => fresh.destroy(id), 'AMBIGUOUS');
    await expectOutcome('destroy of a twice-used name', () => provider.destroy(id), 'AMBIGUOUS');
    await expectOutcome('label of a twice-used name', () => provider.label(id, { a: 'b' }), 'AMBIGUOUS');
    assert.deepEqual(await inventory(), before);
    for (const twin of (await rig.sim.listVms()).filter((v) => v.name === id)) {
      await rig.admin.tasks.wait(
        await rig.admin.session.invoke<ManagedObjectReference>('Destroy_Task', {
          _this: new ManagedObjectReference('VirtualMachine', twin.moref),
        }),
      );
    }
    assert.equal((await vmNamesInFolder(rig, 'name-twins')).length, 0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('malformed and oversized JSON-RPC bodies', () => {
  const target = () => ({ socketPath });
  const rpc = (method: string, params: unknown, id: unknown = 1) =>
    JSON.stringify({ jsonrpc: '2.0', method, params, id });
  // [case, body, expected JSON-RPC error code (undefined: a result)]
  const table: [string, string | Buffer, number | undefined][] = [
    ['an empty body', '', -32700],
    ['truncated JSON', '{"jsonrpc":"2.0","method":', -32700],
    ['not JSON at all', 'GET / HTTP/1.1', -32700],
    ['JSON nested 100 000 deep', `${'['.repeat(100_000)}${']'.repeat(100_000)}`, -32600],
    ['a bare number', '42', -32600],
    ['an empty batch', '[]', -32600],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), -32700],
    ['an unknown method', rpc('Instance.Explode', {}), -32601],
    ['a method of the wrong case', rpc('instance.provision', {}), -32601],
    [
      'an id that is an object',
      JSON.stringify({ jsonrpc: '2.0', method: 'Handshake.Implements', id: { a: 1 } }),
      -32600,
    ],
    ['Type a number', rpc('Instance.Validate', { Type: 7, Properties: {} }), -32602],
    ['Spec a string', rpc('Instance.Provision', { Type: '', Spec: 'vm please' }), -32602],
    [
      'Spec.Tags an array',
      rpc('Instance.Provision', { Type: '', Spec: { Tags: ['x'], Properties: cloneProps } }),
      -32602,
    ],
    [
      'Spec.Properties with a wrong CPUs',
      rpc('Instance.Provision', {
        Type: '',
        Spec: { Tags: groupTags('rpc'), Properties: { ...cloneProps, CPUs: 'x' } },
      }),
      -32000,
    ],
    [
      'Spec.Init a number',
      rpc('Instance.Provision', {
        Type: '',
        Spec: { Tags: groupTags('rpc'), Properties: cloneProps, Init: 5 },
      }),
      -32602,
    ],
    ['Instance an object', rpc('Instance.Destroy', { Type: '', Instance: { id: 'x' } }), -32602],
    ['Labels with a number', rpc('Instance.Label', { Type: '', Instance: 'vm-1', Labels: { a: 1 } }), -32602],
    [
      'Tags with a nested object',
      rpc('Instance.DescribeInstances', { Type: '', Tags: { a: { b: 'c' } } }),
      -32602,
    ],
    ['an unknown Type', rpc('Instance.DescribeInstances', { Type: 'nope', Tags: {} }), -32000],
    [
      '1 000 query tags',
      rpc('Instance.DescribeInstances', {
        Type: '',
        Tags: Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`k${i}`, 'v'])),
      }),
      undefined,
    ],
    [
      'a body over the size limit',
      rpc('Instance.Validate', { Type: '', Properties: { Annotation: 'x'.repeat(100_000) } }),
      -32600,
    ],
  ];
  for (const [name, body, code] of table) {
    it(`${name}: ${code === undefined ? 'a result' : `error ${code}`}, HTTP 200, nothing made`, async () => {
      cases += 1;
      const before = await inventory();
      const reply = await postRaw(target(), body);
      assert.equal(reply.status, 200);
      watch.text(`reply to ${name}`, reply.body);
      const parsed = JSON.parse(reply.body) as {
        error?: { code: number; message: string; data: unknown };
        result?: unknown;
      };
      if (code === undefined) {
        assert.equal(parsed.error, undefined, reply.body.slice(0, 300));
        assert.ok(parsed.result !== undefined);
      } else {
        assert.equal(parsed.error?.code, code, reply.body.slice(0, 300));
        assert.equal(typeof parsed.error?.message, 'string');
        assert.ok(parsed.error!.message.length < 20_000, 'the message is bounded');
        assert.equal(parsed.error?.data, null);
      }
      assert.deepEqual(await inventory(), before);
    });
  }

  it('a body far over the limit is cut off, and the server still answers the next request', async () => {
    cases += 1;
    const huge = Buffer.alloc(8 * 1024 * 1024, 0x20);
    const outcome = await settle(postRaw(target(), huge));
    if (outcome.ok) assert.match(outcome.value.body, /larger than/);
    const reply = await postRaw(target(), rpc('Handshake.Implements', {}));
    assert.match(reply.body, /"Instance"/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('malformed SOAP answers forged by the proxy', () => {
  const group = 'forged';
  const tags = groupTags(group);
  let id: string;
  before(async () => {
    id = await provider.provision({ Tags: tags, Properties: cloneProps });
    await provider.describe(tags); // the group folder is known: describe's next call is RetrievePropertiesEx
  });

  const envelope = (inner: string) =>
    `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>${inner}</soapenv:Body></soapenv:Envelope>`;
  const laughs = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval>&lol9;</returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>`;
  const xxe = `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval>&xxe;</returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>`;
  // [case, the fault on describe's RetrievePropertiesEx, expected code (undefined: describe works)]
  const table: [string, Fault, string | undefined][] = [
    [
      'a truncated document',
      { kind: 'body', body: (real) => real.slice(0, Math.floor(real.length / 2)) },
      'VIM25_DECODE',
    ],
    [
      'an HTML page with status 200',
      { kind: 'body', body: '<html><body>Service Unavailable</body></html>' },
      'VIM25_DECODE',
    ],
    ['plain text with status 200', { kind: 'body', body: 'OK' }, 'VIM25_DECODE'],
    ['an empty body with status 200', { kind: 'body', body: '' }, 'VIM25_DECODE'],
    [
      'an HTML page with status 500',
      { kind: 'body', status: 500, body: '<html>oops</html>' },
      'VIM25_DECODE',
    ],
    [
      'plain text with status 500',
      { kind: 'body', status: 500, body: 'Internal Server Error' },
      'HTTP_STATUS',
    ],
    ['a 404', { kind: 'body', status: 404, body: 'Not Found' }, 'HTTP_STATUS'],
    ['a DOCTYPE with billion laughs', { kind: 'body', body: laughs }, 'VIM25_DECODE'],
    ['an external entity (XXE)', { kind: 'body', body: xxe }, 'VIM25_DECODE'],
    [
      'an undeclared entity',
      {
        kind: 'body',
        body: envelope(
          '<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval>&evil;</returnval></RetrievePropertiesExResponse>',
        ),
      },
      'VIM25_DECODE',
    ],
    [
      'a character reference to NUL',
      {
        kind: 'body',
        body: envelope(
          '<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval>&#0;</returnval></RetrievePropertiesExResponse>',
        ),
      },
      'VIM25_DECODE',
    ],
    [
      'nesting 100 000 deep',
      {
        kind: 'body',
        body: envelope(
          `<RetrievePropertiesExResponse xmlns="urn:vim25">${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}</RetrievePropertiesExResponse>`,
        ),
      },
      'VIM25_DECODE',
    ],
    [
      'the answer to another method',
      {
        kind: 'body',
        body: envelope(
          '<CurrentTimeResponse xmlns="urn:vim25"><returnval>2020-01-01T00:00:00Z</returnval></CurrentTimeResponse>',
        ),
      },
      'VIM25_DECODE',
    ],
    ['an empty SOAP body', { kind: 'body', body: envelope('') }, 'VIM25_DECODE'],
    [
      'mismatched tags',
      {
        kind: 'body',
        body: envelope(
          '<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval></objects></RetrievePropertiesExResponse>',
        ),
      },
      'VIM25_DECODE',
    ],
    [
      'invalid UTF-8',
      {
        kind: 'body',
        body: (real) =>
          Buffer.concat([
            Buffer.from(real.slice(0, 300)),
            Buffer.from([0xff, 0xfe]),
            Buffer.from(real.slice(300)),
          ]),
      },
      'VIM25_DECODE',
    ],
    [
      'a fault with a garbage detail',
      {
        kind: 'body',
        status: 500,
        body: envelope(
          '<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>boom</faultstring><detail><NotAFaultFault><x>1</x></NotAFaultFault></detail></soapenv:Fault>',
        ),
      },
      'VIM_FAULT',
    ],
    [
      'a fault without anything',
      { kind: 'body', status: 500, body: envelope('<soapenv:Fault/>') },
      'VIM_FAULT',
    ],
    [
      'unexpected elements everywhere',
      {
        kind: 'body',
        body: (real) =>
          real
            .replaceAll(
              '<propSet>',
              '<unexpected xmlns="urn:evil"><deep a="1">x</deep></unexpected><propSet>',
            )
            .replace('<returnval>', '<returnval><bogus>1</bogus>'),
      },
      undefined,
    ],
    [
      'the notes as an object instead of a string',
      {
        kind: 'body',
        body: (real) =>
          real.replace(
            /(<name>config\.annotation<\/name><val)[^>]*>[^<]*<\/val>/,
            '$1 xsi:type="VirtualMachineConfigSummary"><name>x</name></val>',
          ),
      },
      undefined,
    ],
    [
      'the name as a number',
      {
        kind: 'body',
        body: (real) =>
          real.replace(/(<name>name<\/name><val)[^>]*>vm-\d+<\/val>/, '$1 xsi:type="xsd:int">12</val>'),
      },
      undefined,
    ],
  ];
  for (const [name, fault, code] of table) {
    it(`${name}: ${code ?? 'describe answers'}; the next describe works`, async () => {
      const before = await inventory();
      rig.proxy.setRules([{ method: 'RetrievePropertiesEx', times: 1, fault }]);
      const started = performance.now();
      const result = await expectOutcome(`describe with ${name}`, () => provider.describe(tags), code);
      assert.ok(performance.now() - started < 5000, 'no expansion, no hang');
      rig.proxy.setRules([]);
      if (code === undefined) {
        const ids = (result as { ID: string }[]).map((d) => d.ID);
        assert.ok(
          ids.every((i) => i === id),
          `only the instance: ${ids.join(', ')}`,
        );
      }
      assert.deepEqual(
        (await provider.describe(tags)).map((d) => d.ID),
        [id],
      );
      assert.deepEqual(await inventory(), before);
    });
  }

  it('a garbled answer to CloneVM_Task: the clone is found by name, one VM, nothing started twice', async () => {
    cases += 1;
    const clonesBefore = rig.proxy.count('CloneVM_Task').forwarded;
    rig.proxy.setRules([
      { method: 'CloneVM_Task', times: 1, fault: { kind: 'body', body: (real) => real.slice(0, 40) } },
    ]);
    const made = await provider.provision({ Tags: tags, Properties: cloneProps });
    rig.proxy.setRules([]);
    assert.equal(rig.proxy.count('CloneVM_Task').forwarded - clonesBefore, 1);
    assert.deepEqual((await vmNamesInFolder(rig, group)).sort(), [id, made].sort());
    await provider.destroy(made);
  });
});

// ---------------------------------------------------------------------------------------------

describe('after all of it', () => {
  it('the process is up, at least 50 hostile cases ran, and nothing leaked a secret', async (t) => {
    t.diagnostic(`${cases} hostile cases, ${watch.examined} errors and objects examined for secrets`);
    assert.ok(cases >= 50, `${cases} cases`);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    // Still serving.
    const reply = await postRaw(
      { socketPath },
      JSON.stringify({ jsonrpc: '2.0', method: 'Handshake.Hello', id: 1 }),
    );
    assert.match(reply.body, /Instance\/0\.6\.1/);
    watch.object('provider', provider);
    assert.ok(watch.cookieCount >= 1);
    assert.deepEqual(watch.leaks(), []);
  });
});

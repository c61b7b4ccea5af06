import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../src/errors.ts';
import {
  DEFAULT_GUEST_ID,
  DEFAULT_VM_PREFIX,
  DEFAULT_WAIT_FOR_IP_TIMEOUT_SECONDS,
  LIMITS,
  MAX_USER_ANNOTATION_BYTES,
  PROPERTY_KEYS,
  type ProviderDefaults,
  parseProperties,
  splitPathProperty,
  suggestPropertyKey,
  type VMProperties,
} from '../../src/provider/properties.ts';
import { escapeInventoryName, unescapeInventoryName } from '../../src/vsphere/paths.ts';

/** A minimal valid clone. */
const CLONE = { Template: 'ubuntu-tpl', Datastore: 'ds1', Hostname: 'esx1' };
/** A minimal valid ISO VM. */
const ISO = { ISOPath: 'iso/linuxkit.iso', Datastore: 'ds1', Hostname: 'esx1' };

function fail(raw: unknown, defaults?: ProviderDefaults): ValidationError {
  try {
    parseProperties(raw, defaults);
  } catch (error) {
    assert.ok(error instanceof ValidationError, `expected a ValidationError, got ${String(error)}`);
    assert.equal(error.code, 'VALIDATION');
    return error;
  }
  assert.fail(`expected ${JSON.stringify(raw)?.slice(0, 200)} to be rejected`);
}

function fields(error: ValidationError): string[] {
  return error.issues.map((issue) => issue.field);
}

function issueFor(error: ValidationError, field: string): string {
  const issue = error.issues.find((i) => i.field === field);
  assert.ok(issue, `no issue for ${field}; got ${JSON.stringify(error.issues)}`);
  return issue.message;
}

describe('parseProperties: valid input', () => {
  it('a template clone with every default', () => {
    assert.deepEqual(parseProperties(CLONE), {
      template: 'ubuntu-tpl',
      datastore: 'ds1',
      host: 'esx1',
      vmPrefix: DEFAULT_VM_PREFIX,
      powerOn: false,
      linkedClone: false,
      guestId: DEFAULT_GUEST_ID,
      waitForIP: false,
    } satisfies VMProperties);
  });

  it('a full ISO VM', () => {
    const result = parseProperties({
      Datacenter: 'dc1',
      Datastore: 'ds1',
      ISODatastore: 'isos',
      Cluster: 'cluster-a',
      ResourcePool: 'infrakit',
      Folder: '/dc1/vm/infrakit',
      Network: 'VM Network',
      ISOPath: 'linuxkit/kernel.iso',
      VMPrefix: 'swarm-worker',
      CPUs: 4,
      Memory: 8192,
      DiskMB: 20480,
      PowerOn: true,
      GuestId: 'ubuntu64Guest',
      Annotation: 'owner: ops\nticket: OPS-1',
      WaitForIP: true,
      WaitForIPTimeoutSeconds: 600,
    });
    assert.deepEqual(result, {
      datacenter: 'dc1',
      datastore: 'ds1',
      isoDatastore: 'isos',
      cluster: 'cluster-a',
      resourcePool: 'infrakit',
      folder: '/dc1/vm/infrakit',
      network: 'VM Network',
      isoPath: 'linuxkit/kernel.iso',
      vmPrefix: 'swarm-worker',
      cpus: 4,
      memoryMB: 8192,
      diskMB: 20480,
      powerOn: true,
      linkedClone: false,
      guestId: 'ubuntu64Guest',
      annotation: 'owner: ops\nticket: OPS-1',
      waitForIP: true,
      waitForIPTimeoutSeconds: 600,
    } satisfies VMProperties);
  });

  it('the original README example (string CPUs, MEM, VMPrefix, ISOPath)', () => {
    const result = parseProperties({
      Datastore: 'datastore1',
      Network: 'VM Network',
      Hostname: 'esxi01.local',
      ISOPath: 'linuxkit.iso',
      VMPrefix: 'lk',
      PowerOn: true,
      CPUs: '1',
      MEM: 1024,
    });
    assert.equal(result.cpus, 1);
    assert.equal(result.memoryMB, 1024);
    assert.equal(result.vmPrefix, 'lk');
    assert.equal(result.isoPath, 'linuxkit.iso');
  });

  it("the original code's spellings (vmPrefix, isoPath, Memory, persistantSZ)", () => {
    const result = parseProperties({
      Datacenter: 'dc',
      Datastore: 'datastore1',
      Hostname: 'esxi01',
      isoPath: 'linuxkit.iso',
      vmPrefix: 'lk',
      Memory: 2048,
      persistantSZ: 4096,
      Annotation: 'x',
      PowerOn: false,
    });
    assert.equal(result.vmPrefix, 'lk');
    assert.equal(result.isoPath, 'linuxkit.iso');
    assert.equal(result.memoryMB, 2048);
    assert.equal(result.diskMB, 4096);
  });

  it('returns a frozen object', () => {
    const result = parseProperties(CLONE);
    assert.ok(Object.isFrozen(result));
    assert.throws(() => {
      (result as { cpus?: number }).cpus = 3;
    }, TypeError);
  });

  it('does not keep a reference to the input', () => {
    const raw: Record<string, unknown> = { ...CLONE };
    const result = parseProperties(raw);
    raw.Template = 'changed';
    assert.equal(result.template, 'ubuntu-tpl');
  });

  const notSet: [string, unknown][] = [
    ['null', null],
    ['empty string', ''],
  ];
  for (const [name, value] of notSet) {
    it(`${name} means "not set" for every key`, () => {
      const raw: Record<string, unknown> = { ...CLONE };
      for (const key of PROPERTY_KEYS) if (!(key in CLONE)) raw[key] = value;
      assert.deepEqual(parseProperties(raw), parseProperties(CLONE));
    });
  }
});

describe('parseProperties: defaults', () => {
  const defaults: ProviderDefaults = {
    datacenter: 'dc0',
    datastore: 'ds0',
    network: 'net0',
    host: 'esx0',
    vmPrefix: 'default',
  };

  it('fill what the properties leave out', () => {
    assert.deepEqual(parseProperties({ Template: 't' }, defaults), {
      template: 't',
      datacenter: 'dc0',
      datastore: 'ds0',
      network: 'net0',
      host: 'esx0',
      vmPrefix: 'default',
      powerOn: false,
      linkedClone: false,
      guestId: DEFAULT_GUEST_ID,
      waitForIP: false,
    } satisfies VMProperties);
  });

  it('are overridden by the properties', () => {
    const result = parseProperties(
      { Template: 't', Datacenter: 'dc1', Datastore: 'ds1', Network: 'n1', Hostname: 'h1', VMPrefix: 'p1' },
      defaults,
    );
    assert.equal(result.datacenter, 'dc1');
    assert.equal(result.datastore, 'ds1');
    assert.equal(result.network, 'n1');
    assert.equal(result.host, 'h1');
    assert.equal(result.vmPrefix, 'p1');
  });

  const placement: [string, Record<string, string>, string | undefined][] = [
    ['Cluster given: default host not used', { Cluster: 'c' }, undefined],
    ['ResourcePool given: default host not used', { ResourcePool: 'rp' }, undefined],
    ['nothing given: default host used', {}, 'esx0'],
    ['Hostname given with Cluster: kept', { Hostname: 'h', Cluster: 'c' }, 'h'],
  ];
  for (const [name, extra, host] of placement) {
    it(name, () => {
      assert.equal(parseProperties({ Template: 't', ...extra }, defaults).host, host);
    });
  }

  it('undefined, null and {} raw are not type errors: only the missing essentials are reported', () => {
    for (const raw of [undefined, null, {}]) {
      assert.deepEqual(fields(fail(raw, defaults)), ['Properties.Template, Properties.ISOPath']);
      assert.deepEqual(fields(fail(raw)), [
        'Properties.Template, Properties.ISOPath',
        'Properties.Datastore',
      ]);
    }
  });

  it('invalid defaults are reported as defaults.<name>', () => {
    const error = fail(
      { Template: 't' },
      { datastore: ' ds', host: '/x', vmPrefix: 'bad prefix', network: 'n\n' },
    );
    assert.deepEqual(fields(error).sort(), [
      'defaults.datastore',
      'defaults.host',
      'defaults.network',
      'defaults.vmPrefix',
    ]);
  });
});

describe('parseProperties: both spellings', () => {
  const pairs: {
    a: string;
    b: string;
    value: unknown;
    other: unknown;
    field: keyof VMProperties;
    expected: unknown;
  }[] = [
    { a: 'VMPrefix', b: 'vmPrefix', value: 'web', other: 'db', field: 'vmPrefix', expected: 'web' },
    { a: 'ISOPath', b: 'isoPath', value: 'x.iso', other: 'y.iso', field: 'isoPath', expected: 'x.iso' },
    { a: 'Memory', b: 'MEM', value: 2048, other: 4096, field: 'memoryMB', expected: 2048 },
    { a: 'DiskMB', b: 'persistantSZ', value: 100, other: 200, field: 'diskMB', expected: 100 },
  ];
  const base = { Datastore: 'ds', Hostname: 'h' };
  const source = (key: string) => (key.toLowerCase() === 'isopath' ? {} : { ISOPath: 'a.iso' });

  for (const { a, b, value, other, field, expected } of pairs) {
    it(`${a} alone`, () => {
      assert.equal(parseProperties({ ...base, ...source(a), [a]: value })[field], expected);
    });
    it(`${b} alone`, () => {
      assert.equal(parseProperties({ ...base, ...source(a), [b]: value })[field], expected);
    });
    it(`${a} and ${b} with the same value`, () => {
      const sameButString = typeof value === 'number' ? String(value) : value;
      assert.equal(
        parseProperties({ ...base, ...source(a), [a]: value, [b]: sameButString })[field],
        expected,
      );
    });
    it(`${a} and ${b} with different values`, () => {
      const error = fail({ ...base, ...source(a), [a]: value, [b]: other });
      assert.match(issueFor(error, `Properties.${b}`), new RegExp(`conflicts with Properties\\.${a}`));
    });
  }
});

describe('parseProperties: numbers and booleans', () => {
  const ints: { key: string; field: keyof VMProperties; ok: [unknown, number][]; bad: unknown[] }[] = [
    {
      key: 'CPUs',
      field: 'cpus',
      ok: [
        [1, 1],
        ['1', 1],
        [768, 768],
        ['0016', 16],
      ],
      bad: [
        0,
        -1,
        769,
        1.5,
        '1.5',
        ' 1',
        '1 ',
        '+1',
        '-1',
        '1e2',
        '0x10',
        'two',
        '9999999999999999',
        Number.NaN,
      ],
    },
    {
      key: 'Memory',
      field: 'memoryMB',
      ok: [
        [4, 4],
        ['1024', 1024],
        [LIMITS.memoryMB.max, LIMITS.memoryMB.max],
      ],
      bad: [0, 2, 1023, 1025, LIMITS.memoryMB.max + 4, '2GB', 1024.5],
    },
    {
      key: 'DiskMB',
      field: 'diskMB',
      ok: [
        [1, 1],
        ['20480', 20480],
        [LIMITS.diskMB.max, LIMITS.diskMB.max],
      ],
      bad: [0, -5, LIMITS.diskMB.max + 1, '10G'],
    },
  ];
  for (const { key, field, ok, bad } of ints) {
    for (const [input, expected] of ok) {
      it(`${key}: ${JSON.stringify(input)} → ${expected}`, () => {
        assert.equal(parseProperties({ ...CLONE, [key]: input })[field], expected);
      });
    }
    for (const input of bad) {
      it(`${key}: ${JSON.stringify(input)} rejected`, () => {
        const error = fail({ ...CLONE, [key]: input });
        assert.deepEqual(fields(error), [`Properties.${key}`]);
      });
    }
  }

  it('memory must be a multiple of 4', () => {
    assert.match(issueFor(fail({ ...CLONE, Memory: 1026 }), 'Properties.Memory'), /not a multiple of 4/);
  });

  it('out of range names the range', () => {
    assert.match(
      issueFor(fail({ ...CLONE, CPUs: 1000 }), 'Properties.CPUs'),
      /1000 is out of range 1\.\.768/,
    );
  });

  const bools: [unknown, boolean][] = [
    [true, true],
    [false, false],
    ['true', true],
    ['false', false],
    ['TRUE', true],
    ['False', false],
  ];
  for (const [input, expected] of bools) {
    it(`PowerOn: ${JSON.stringify(input)} → ${expected}`, () => {
      assert.equal(parseProperties({ ...CLONE, PowerOn: input }).powerOn, expected);
    });
  }
  for (const input of ['yes', '1', 1, 0, 'on', ' true', [], {}]) {
    it(`PowerOn: ${JSON.stringify(input)} rejected`, () => {
      assert.deepEqual(fields(fail({ ...CLONE, PowerOn: input })), ['Properties.PowerOn']);
    });
  }
});

describe('parseProperties: wrong JSON types name the key, the type received and the type expected', () => {
  const cases: [string, unknown, string][] = [
    ['Datastore', 5, 'expected a string, got number'],
    ['Template', ['a'], 'expected a string, got array'],
    ['Network', { name: 'x' }, 'expected a string, got object'],
    ['Hostname', true, 'expected a string, got boolean'],
    ['Cluster', 1, 'expected a string, got number'],
    ['ResourcePool', false, 'expected a string, got boolean'],
    ['Folder', [], 'expected a string, got array'],
    ['Datacenter', 3.5, 'expected a string, got number'],
    ['ISOPath', {}, 'expected a string, got object'],
    ['ISODatastore', 1, 'expected a string, got number'],
    ['VMPrefix', 7, 'expected a string, got number'],
    ['GuestId', true, 'expected a string, got boolean'],
    ['Annotation', ['x'], 'expected a string, got array'],
    ['CPUs', true, 'expected an integer or a string of digits, got boolean'],
    ['Memory', [1024], 'expected an integer (MB) or a string of digits, got array'],
    ['MEM', { mb: 1 }, 'expected an integer (MB) or a string of digits, got object'],
    ['persistantSZ', true, 'expected an integer (MB) or a string of digits, got boolean'],
    ['PowerOn', 1, 'expected a boolean (or "true"/"false"), got number'],
    ['LinkedClone', {}, 'expected a boolean (or "true"/"false"), got object'],
    ['WaitForIP', [], 'expected a boolean (or "true"/"false"), got array'],
  ];
  for (const [key, value, message] of cases) {
    it(`${key}: ${JSON.stringify(value)}`, () => {
      const error = fail({ ...CLONE, [key]: value });
      assert.equal(issueFor(error, `Properties.${key}`), message);
    });
  }

  const notObjects: unknown[] = ['x', 5, true, [], [CLONE], new Date(0), new Map()];
  for (const raw of notObjects) {
    it(`raw ${Object.prototype.toString.call(raw)} is rejected`, () => {
      const error = fail(raw);
      assert.deepEqual(fields(error), ['Properties']);
      assert.match(issueFor(error, 'Properties'), /^expected an object, got /);
    });
  }
});

describe('parseProperties: unknown keys', () => {
  const cases: [string, RegExp][] = [
    ['cpus', /did you mean CPUs\? \(keys are case-sensitive\)/],
    ['datastore', /did you mean Datastore\?/],
    ['Hostnmae', /did you mean Hostname\?/],
    ['HostName', /did you mean Hostname\?/],
    ['Memroy', /did you mean Memory\?/],
    ['Templat', /did you mean Template\?/],
    ['persistentSZ', /did you mean persistantSZ\? \(preferred spelling: DiskMB\)/],
    ['ISOpath', /did you mean (ISOPath|isoPath)\?/],
    ['Clustre', /did you mean Cluster\?/],
    ['ResourcePools', /did you mean ResourcePool\?/],
    ['LinkedClones', /did you mean LinkedClone\?/],
    ['GuestID', /did you mean GuestId\?/],
    ['foo', /^unknown property; accepted keys are Datacenter, Datastore, /],
    ['Size', /^unknown property; accepted keys are/],
  ];
  for (const [key, expected] of cases) {
    it(`${key}`, () => {
      const error = fail({ ...CLONE, [key]: 1 });
      assert.deepEqual(fields(error), [`Properties.${key}`]);
      assert.match(issueFor(error, `Properties.${key}`), expected);
    });
  }

  it('suggestPropertyKey gives nothing for far-off or huge keys', () => {
    assert.equal(suggestPropertyKey('xyzzy'), undefined);
    assert.equal(suggestPropertyKey('C'.repeat(10000)), undefined);
    assert.equal(suggestPropertyKey('mem'), 'MEM');
  });

  it('a huge unknown key is truncated in the field name', () => {
    const key = 'k'.repeat(100000);
    const error = fail({ ...CLONE, [key]: 1 });
    assert.equal(error.issues.length, 1);
    assert.ok((error.issues[0]?.field.length ?? 0) < 80);
    assert.ok(error.message.length < 1000);
  });

  it('lists at most 50 issues for thousands of bad keys, saying how many more', () => {
    const raw: Record<string, unknown> = { ...CLONE };
    for (let i = 0; i < 5000; i++) raw[`junk${i}`] = i;
    const error = fail(raw);
    assert.equal(error.issues.length, 50);
    assert.deepEqual(error.issues[49], { field: '(more)', message: '4951 more problems not listed' });
  });
});

describe('parseProperties: vCenterURL is rejected without echoing it', () => {
  for (const key of ['vCenterURL', 'VCenterURL', 'vcenterurl']) {
    it(key, () => {
      const secret = 'https://administrator:S3cr3t!@vc.example.com/sdk';
      const error = fail({ ...CLONE, [key]: secret });
      assert.deepEqual(fields(error), [`Properties.${key}`]);
      assert.match(issueFor(error, `Properties.${key}`), /provider options/);
      assert.match(issueFor(error, `Properties.${key}`), /subtype/);
      assert.ok(!error.message.includes('S3cr3t'));
      assert.ok(!error.message.includes('vc.example.com'));
    });
  }
});

describe('parseProperties: Template / ISOPath and other combinations', () => {
  it('both Template and ISOPath', () => {
    const error = fail({ ...CLONE, ISOPath: 'a.iso' });
    assert.deepEqual(fields(error), ['Properties.Template, Properties.ISOPath']);
    assert.match(error.message, /not both/);
  });

  it('both Template and isoPath names the spelling used', () => {
    assert.deepEqual(fields(fail({ ...CLONE, isoPath: 'a.iso' })), [
      'Properties.Template, Properties.isoPath',
    ]);
  });

  it('neither', () => {
    const error = fail({ Datastore: 'ds', Hostname: 'h' });
    assert.deepEqual(fields(error), ['Properties.Template, Properties.ISOPath']);
    assert.match(error.message, /one of Template \(clone\) or ISOPath \(boot from ISO\) is required/);
  });

  it('an invalid Template is reported once, not also as missing', () => {
    assert.deepEqual(fields(fail({ ...CLONE, Template: 5 })), ['Properties.Template']);
  });

  const rules: [string, Record<string, unknown>, string, RegExp][] = [
    [
      'LinkedClone without Template',
      { ...ISO, LinkedClone: true },
      'Properties.LinkedClone',
      /needs a template/,
    ],
    [
      'GuestId with Template',
      { ...CLONE, GuestId: 'ubuntu64Guest' },
      'Properties.GuestId',
      /only applies with ISOPath/,
    ],
    [
      'ISODatastore with Template',
      { ...CLONE, ISODatastore: 'isos' },
      'Properties.ISODatastore',
      /only applies/,
    ],
    [
      'WaitForIP without PowerOn',
      { ...CLONE, WaitForIP: true },
      'Properties.WaitForIP',
      /requires PowerOn: true/,
    ],
    [
      'WaitForIPTimeoutSeconds without WaitForIP',
      { ...CLONE, WaitForIPTimeoutSeconds: 60 },
      'Properties.WaitForIPTimeoutSeconds',
      /only applies with WaitForIP: true/,
    ],
    [
      'WaitForIPTimeoutSeconds out of range',
      { ...CLONE, PowerOn: true, WaitForIP: true, WaitForIPTimeoutSeconds: 0 },
      'Properties.WaitForIPTimeoutSeconds',
      /out of range 1\.\.86400/,
    ],
    ['Datastore missing', { Template: 't', Hostname: 'h' }, 'Properties.Datastore', /required/],
  ];
  for (const [name, raw, field, message] of rules) {
    it(name, () => {
      const error = fail(raw);
      assert.deepEqual(fields(error), [field]);
      assert.match(issueFor(error, field), message);
    });
  }

  it('LinkedClone with a Template', () => {
    assert.equal(parseProperties({ ...CLONE, LinkedClone: 'true' }).linkedClone, true);
  });

  it('WaitForIP gets the default timeout', () => {
    const result = parseProperties({ ...CLONE, PowerOn: true, WaitForIP: true });
    assert.equal(result.waitForIPTimeoutSeconds, DEFAULT_WAIT_FOR_IP_TIMEOUT_SECONDS);
    assert.equal(parseProperties(CLONE).waitForIPTimeoutSeconds, undefined);
  });

  it('Cluster or ResourcePool instead of Hostname', () => {
    assert.equal(parseProperties({ Template: 't', Datastore: 'd', Cluster: 'c' }).cluster, 'c');
    assert.equal(parseProperties({ Template: 't', Datastore: 'd', ResourcePool: 'rp' }).resourcePool, 'rp');
  });

  const isoPaths: [string, Record<string, unknown>, { isoPath: string; isoDatastore?: string }][] = [
    ['plain path', { ISOPath: 'iso/a.iso' }, { isoPath: 'iso/a.iso' }],
    ['datastore path', { ISOPath: '[isos] iso/a.iso' }, { isoPath: 'iso/a.iso', isoDatastore: 'isos' }],
    ['datastore path without space', { ISOPath: '[isos]a.iso' }, { isoPath: 'a.iso', isoDatastore: 'isos' }],
    [
      'datastore path agreeing with ISODatastore',
      { ISOPath: '[isos] a.iso', ISODatastore: 'isos' },
      { isoPath: 'a.iso', isoDatastore: 'isos' },
    ],
    ['ISODatastore', { ISOPath: 'a.iso', ISODatastore: 'isos' }, { isoPath: 'a.iso', isoDatastore: 'isos' }],
    ['spaces inside', { ISOPath: 'my isos/linux kit.iso' }, { isoPath: 'my isos/linux kit.iso' }],
  ];
  for (const [name, raw, expected] of isoPaths) {
    it(`ISOPath: ${name}`, () => {
      const result = parseProperties({ Datastore: 'ds', Hostname: 'h', ...raw });
      assert.equal(result.isoPath, expected.isoPath);
      assert.equal(result.isoDatastore, expected.isoDatastore);
    });
  }

  const badIsoPaths: [string, Record<string, unknown>, string][] = [
    ['leading slash', { ISOPath: '/iso/a.iso' }, 'Properties.ISOPath'],
    ['parent component', { ISOPath: 'iso/../a.iso' }, 'Properties.ISOPath'],
    ['empty component', { ISOPath: 'iso//a.iso' }, 'Properties.ISOPath'],
    ['empty datastore', { ISOPath: '[] a.iso' }, 'Properties.ISOPath'],
    ['no file after datastore', { ISOPath: '[isos] ' }, 'Properties.ISOPath'],
    ['conflicting datastore', { ISOPath: '[isos] a.iso', ISODatastore: 'other' }, 'Properties.ISODatastore'],
  ];
  for (const [name, raw, field] of badIsoPaths) {
    it(`ISOPath rejected: ${name}`, () => {
      assert.deepEqual(fields(fail({ Datastore: 'ds', Hostname: 'h', ...raw })), [field]);
    });
  }
});

describe('parseProperties: names, paths and prefixes', () => {
  const accepted: [string, string][] = [
    ['Template', '/DC/vm/templates/ubuntu-18.04'],
    ['Template', 'templates/ubuntu'],
    ['Template', 'ubuntu%2f18.04'],
    ['Template', 'a%25b%5Cc'],
    ['Folder', '/DC/vm/infrakit'],
    ['Folder', 'infrakit'],
    ['Cluster', '/DC/host/cluster-a'],
    ['ResourcePool', 'cluster-a/Resources/infrakit'],
    ['Network', '10.0.0.0/24'],
    ['Network', 'VM Network'],
    ['Datastore', 'ds%1'],
    ['Datacenter', 'Zürich DC'],
    ['Hostname', '10.0.0.5'],
    ['Hostname', 'esx-01.example.com'],
  ];
  for (const [key, value] of accepted) {
    it(`${key}: ${JSON.stringify(value)} accepted`, () => {
      const raw: Record<string, unknown> = { ...CLONE, [key]: value };
      const result = parseProperties(raw);
      assert.ok(Object.values(result).includes(value));
    });
  }

  const rejected: [string, unknown, RegExp][] = [
    ['Template', 'a//b', /empty path component/],
    ['Template', 'a/b/', /empty path component/],
    ['Template', '/', /not the root/],
    ['Folder', '/DC/vm/../x', /relative components/],
    ['Folder', './x', /relative components/],
    ['Template', 'a%20b', /not one of the escapes/],
    ['Template', '100%', /not one of the escapes/],
    ['Cluster', 'a/ b', /leading or trailing whitespace/],
    ['Datastore', '/DC/datastore/ds1', /looks like an inventory path/],
    ['Network', '/DC/network/VM Network', /looks like an inventory path/],
    ['Datastore', ' ds1', /leading or trailing whitespace/],
    ['Datastore', 'ds1 ', /leading or trailing whitespace/],
    ['Hostname', '   ', /leading or trailing whitespace/],
    ['Network', 'a\nb', /control character U\+000A/],
    ['Datacenter', 'a\u0000', /control character U\+0000/],
    ['Folder', 'a\u0085b', /control character U\+0085/],
    ['Datastore', 'a\ud800', /U\+D800/],
    ['Datastore', 'x'.repeat(2049), /longer than 2048 characters/],
    ['VMPrefix', 'x'.repeat(41), /at most 40/],
    ['VMPrefix', 'my prefix', /only letters, digits/],
    ['VMPrefix', '-web', /must start with a letter or digit/],
    ['VMPrefix', '.hidden', /must start with a letter or digit/],
    ['VMPrefix', 'wéb', /only letters, digits/],
    ['VMPrefix', 'a/b', /only letters, digits/],
    ['GuestId', 'other linux', /not a vSphere guest identifier/],
    ['GuestId', '64bit', /not a vSphere guest identifier/],
  ];
  for (const [key, value, message] of rejected) {
    it(`${key}: ${JSON.stringify(value).slice(0, 40)} rejected`, () => {
      const base: Record<string, unknown> = key === 'GuestId' ? { ...ISO } : { ...CLONE };
      const error = fail({ ...base, [key]: value });
      assert.deepEqual(fields(error), [`Properties.${key}`]);
      assert.match(issueFor(error, `Properties.${key}`), message);
    });
  }

  it('vmPrefix accepts 40 characters of letters, digits, "-", "_" and "."', () => {
    const prefix = `A1-_.${'z'.repeat(35)}`;
    assert.equal(parseProperties({ ...CLONE, VMPrefix: prefix }).vmPrefix, prefix);
    // The longest instance name: prefix, "-", and the 19 digits of the largest int63.
    assert.ok(`${prefix}-${2n ** 63n - 1n}`.length <= 80);
  });

  it('never echoes a huge value', () => {
    const huge = `${'/'.repeat(1)}${'a'.repeat(1000)}`;
    const error = fail({ ...CLONE, Datastore: huge, Template: `${'b'.repeat(1000)}//` });
    for (const issue of error.issues) assert.ok(issue.message.length < 200, issue.message);
  });
});

describe('parseProperties: Annotation', () => {
  it('keeps newlines and XML specials', () => {
    const text = 'a\r\nb <&> "c"';
    assert.equal(parseProperties({ ...CLONE, Annotation: text }).annotation, text);
  });
  it(`accepts ${MAX_USER_ANNOTATION_BYTES} bytes, rejects one more`, () => {
    assert.equal(
      parseProperties({ ...CLONE, Annotation: 'a'.repeat(MAX_USER_ANNOTATION_BYTES) }).annotation?.length,
      MAX_USER_ANNOTATION_BYTES,
    );
    const error = fail({ ...CLONE, Annotation: 'a'.repeat(MAX_USER_ANNOTATION_BYTES + 1) });
    assert.match(issueFor(error, 'Properties.Annotation'), /16385 UTF-8 bytes; at most 16384/);
  });
  it('rejects characters XML cannot carry', () => {
    const error = fail({ ...CLONE, Annotation: 'bell\u0007' });
    assert.match(issueFor(error, 'Properties.Annotation'), /U\+0007 at index 4/);
  });
});

describe('parseProperties: every problem at once', () => {
  it('lists each bad key', () => {
    const error = fail({
      Template: 't',
      ISOPath: 'x.iso',
      CPUs: 'many',
      Memory: 3,
      cpus: 2,
      PowerOn: 'maybe',
      vCenterURL: 'https://x',
      VMPrefix: 'a b',
    });
    assert.deepEqual(fields(error), [
      'Properties.CPUs',
      'Properties.Memory',
      'Properties.cpus',
      'Properties.PowerOn',
      'Properties.vCenterURL',
      'Properties.VMPrefix',
      'Properties.Template, Properties.ISOPath',
      'Properties.Datastore',
    ]);
    assert.ok(error.message.startsWith('invalid instance properties: Properties.CPUs: '));
  });

  it('uses the field prefix given in options', () => {
    try {
      parseProperties({ CPUs: 'x' }, {}, { field: 'Spec.Properties' });
      assert.fail('expected an error');
    } catch (error) {
      assert.ok(error instanceof ValidationError);
      assert.ok(fields(error).every((field) => field.startsWith('Spec.Properties.')));
    }
  });
});

describe('inventory path helpers', () => {
  const names: [string, string][] = [
    ['plain', 'plain'],
    ['a/b', 'a%2fb'],
    ['100%', '100%25'],
    ['back\\slash', 'back%5cslash'],
    ['%2f', '%252f'],
  ];
  for (const [name, escaped] of names) {
    it(`escape ${JSON.stringify(name)} ⇄ ${JSON.stringify(escaped)}`, () => {
      assert.equal(escapeInventoryName(name), escaped);
      assert.equal(unescapeInventoryName(escaped), name);
    });
  }
  it('unescape accepts upper case', () => {
    assert.equal(unescapeInventoryName('a%2Fb%5C%25'), 'a/b\\%');
  });

  const paths: [string, { absolute: boolean; names: string[] }][] = [
    ['/DC/vm/templates/ubuntu', { absolute: true, names: ['DC', 'vm', 'templates', 'ubuntu'] }],
    ['templates/ubuntu%2f18.04', { absolute: false, names: ['templates', 'ubuntu/18.04'] }],
    ['ubuntu', { absolute: false, names: ['ubuntu'] }],
  ];
  for (const [path, expected] of paths) {
    it(`splitPathProperty(${JSON.stringify(path)})`, () => {
      assert.deepEqual(splitPathProperty(path), expected);
    });
  }
});

describe('docs/properties.md examples', () => {
  it('the ISO VM written with the original spellings', () => {
    assert.deepEqual(
      parseProperties({
        Datastore: 'datastore1',
        Hostname: 'esxi01.example.com',
        Network: 'VM Network',
        isoPath: '[isos] linuxkit/linuxkit-efi.iso',
        vmPrefix: 'lk',
        CPUs: '1',
        MEM: '1024',
        persistantSZ: 2048,
        PowerOn: 'true',
      }),
      {
        datastore: 'datastore1',
        isoDatastore: 'isos',
        host: 'esxi01.example.com',
        network: 'VM Network',
        isoPath: 'linuxkit/linuxkit-efi.iso',
        vmPrefix: 'lk',
        cpus: 1,
        memoryMB: 1024,
        diskMB: 2048,
        powerOn: true,
        linkedClone: false,
        guestId: 'otherLinux64Guest',
        waitForIP: false,
      } satisfies VMProperties,
    );
  });

  it('the error example', () => {
    const error = fail({
      cpus: 2,
      Template: 't',
      ISOPath: 'x.iso',
      Memory: 1000.5,
      vCenterURL: 'https://u:p@vc/sdk',
    });
    assert.deepEqual(fields(error), [
      'Properties.cpus',
      'Properties.Memory',
      'Properties.vCenterURL',
      'Properties.Template, Properties.ISOPath',
      'Properties.Datastore',
    ]);
    assert.ok(!error.message.includes('u:p'));
  });
});

describe('parseProperties: the order of its issues', () => {
  it('lists the issues of single keys in the order the input gave the keys, whatever that order', () => {
    const fields = (raw: Record<string, unknown>) => {
      try {
        parseProperties(raw, { datastore: 'ds' });
      } catch (error) {
        assert.ok(error instanceof ValidationError);
        return error.issues.map((issue) => issue.field);
      }
      assert.fail('expected a ValidationError');
    };
    const input = { Memory: 'x', Template: 5, CPUs: 'y', Bogus: 1, Disks: 'z', Networks: 3 };
    assert.deepEqual(
      fields(input),
      Object.keys(input).map((key) => `Properties.${key}`),
    );
    const reversed = Object.fromEntries(Object.entries(input).reverse());
    assert.deepEqual(
      fields(reversed),
      Object.keys(reversed).map((key) => `Properties.${key}`),
    );
  });
});

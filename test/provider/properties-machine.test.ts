import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../src/errors.ts';
import { parseProperties } from '../../src/provider/properties.ts';
import { isReservedExtraConfigKey } from '../../src/provider/properties-machine.ts';

const CLONE = { Template: 'ubuntu-tpl', Datastore: 'ds1', Hostname: 'esx1' };
const ISO = { ISOPath: 'iso/linuxkit.iso', Datastore: 'ds1', Hostname: 'esx1' };

function fail(raw: unknown): ValidationError {
  try {
    parseProperties(raw, {}, { field: 'Spec.Properties' });
  } catch (error) {
    assert.ok(error instanceof ValidationError, `expected a ValidationError, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(raw)} to be rejected`);
}

function issueFor(error: ValidationError, field: string): string {
  const issue = error.issues.find((i) => i.field === field);
  assert.ok(issue, `no issue for ${field}; got ${JSON.stringify(error.issues)}`);
  return issue.message;
}

describe('machine properties: valid input', () => {
  it('a clone with every machine key', () => {
    const props = parseProperties({
      ...CLONE,
      CPUs: 4,
      RootDiskMB: 20480,
      Disks: [{ SizeMB: 1024 }, { SizeMB: '2048', Provisioning: 'eagerZeroedThick', Datastore: 'ds2' }],
      CoresPerSocket: 2,
      CPUHotAdd: true,
      MemoryHotAdd: false,
      Firmware: 'efi',
      SecureBoot: true,
      ExtraConfig: { 'disk.EnableUUID': 'TRUE', 'guestinfo.role': 'worker' },
      PowerOffMode: 'soft',
      PowerOffTimeoutSeconds: 120,
    });
    assert.equal(props.rootDiskMB, 20480);
    assert.deepEqual(props.disks, [
      { sizeMB: 1024, provisioning: 'thin' },
      { sizeMB: 2048, provisioning: 'eagerZeroedThick', datastore: 'ds2' },
    ]);
    assert.equal(props.coresPerSocket, 2);
    assert.equal(props.cpuHotAdd, true);
    assert.equal(props.memoryHotAdd, false);
    assert.equal(props.firmware, 'efi');
    assert.equal(props.secureBoot, true);
    assert.deepEqual(props.extraConfig, { 'disk.EnableUUID': 'TRUE', 'guestinfo.role': 'worker' });
    assert.equal(props.powerOffMode, 'soft');
    assert.equal(props.powerOffTimeoutSeconds, 120);
    assert.ok(Object.isFrozen(props.disks));
  });

  it('an ISO VM with a hardware version and bios', () => {
    const props = parseProperties({ ...ISO, HardwareVersion: 'vmx-19', Firmware: 'bios' });
    assert.equal(props.hardwareVersion, 'vmx-19');
    assert.equal(props.firmware, 'bios');
  });

  it('SecureBoot: false needs no Firmware (turns it off on an EFI template)', () => {
    assert.equal(parseProperties({ ...CLONE, SecureBoot: false }).secureBoot, false);
  });

  it('adds nothing when no machine key is given', () => {
    const props = parseProperties(CLONE);
    for (const key of ['rootDiskMB', 'disks', 'firmware', 'extraConfig', 'powerOffMode']) {
      assert.equal(key in props, false, key);
    }
  });
});

describe('machine properties: bad values, each named by field', () => {
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ['RootDiskMB on an ISO VM', { ...ISO, RootDiskMB: 1024 }, 'RootDiskMB', /only applies with Template/],
    ['RootDiskMB not a number', { ...CLONE, RootDiskMB: 'big' }, 'RootDiskMB', /expected an integer/],
    ['RootDiskMB zero', { ...CLONE, RootDiskMB: 0 }, 'RootDiskMB', /out of range/],
    ['Disks not an array', { ...CLONE, Disks: { SizeMB: 1 } }, 'Disks', /expected an array/],
    ['Disks empty', { ...CLONE, Disks: [] }, 'Disks', /give 1 to 16/],
    [
      'Disks too many',
      { ...CLONE, Disks: Array.from({ length: 17 }, () => ({ SizeMB: 1 })) },
      'Disks',
      /give 1 to 16/,
    ],
    ['Disks entry not an object', { ...CLONE, Disks: [5] }, 'Disks[0]', /expected a disk object/],
    ['Disks SizeMB missing', { ...CLONE, Disks: [{ Provisioning: 'thin' }] }, 'Disks[0].SizeMB', /required/],
    ['Disks SizeMB negative', { ...CLONE, Disks: [{ SizeMB: -1 }] }, 'Disks[0].SizeMB', /out of range/],
    [
      'Disks Provisioning unknown',
      { ...CLONE, Disks: [{ SizeMB: 1 }, { SizeMB: 1, Provisioning: 'Thin' }] },
      'Disks[1].Provisioning',
      /case-sensitive: "thin"/,
    ],
    [
      'Disks Datastore a path',
      { ...CLONE, Disks: [{ SizeMB: 1, Datastore: '/dc/ds' }] },
      'Disks[0].Datastore',
      /datastore's name/,
    ],
    ['Disks unknown key', { ...CLONE, Disks: [{ SizeMB: 1, sizemb: 2 }] }, 'Disks[0].sizemb', /SizeMB/],
    [
      'DiskMB and Disks',
      { ...CLONE, DiskMB: 1, Disks: [{ SizeMB: 1 }] },
      'DiskMB, Spec.Properties.Disks',
      /not both/,
    ],
    ['CoresPerSocket without CPUs', { ...CLONE, CoresPerSocket: 2 }, 'CoresPerSocket', /requires CPUs/],
    [
      'CoresPerSocket not a divisor',
      { ...CLONE, CPUs: 6, CoresPerSocket: 4 },
      'CPUs, Spec.Properties.CoresPerSocket',
      /multiple/,
    ],
    ['CoresPerSocket zero', { ...CLONE, CPUs: 2, CoresPerSocket: 0 }, 'CoresPerSocket', /out of range/],
    ['CPUHotAdd a string', { ...CLONE, CPUHotAdd: 'true' }, 'CPUHotAdd', /JSON boolean/],
    ['MemoryHotAdd a number', { ...CLONE, MemoryHotAdd: 1 }, 'MemoryHotAdd', /JSON boolean/],
    ['Firmware unknown', { ...CLONE, Firmware: 'uefi' }, 'Firmware', /"bios", "efi"/],
    ['Firmware wrong case', { ...CLONE, Firmware: 'EFI' }, 'Firmware', /case-sensitive/],
    ['SecureBoot with bios', { ...CLONE, Firmware: 'bios', SecureBoot: false }, 'SecureBoot', /efi/],
    ['SecureBoot without Firmware', { ...CLONE, SecureBoot: true }, 'SecureBoot', /efi/],
    ['SecureBoot a string', { ...CLONE, Firmware: 'efi', SecureBoot: 'yes' }, 'SecureBoot', /JSON boolean/],
    [
      'HardwareVersion with Template',
      { ...CLONE, HardwareVersion: 'vmx-19' },
      'HardwareVersion',
      /template's hardware version/,
    ],
    ['HardwareVersion malformed', { ...ISO, HardwareVersion: '19' }, 'HardwareVersion', /vmx-19/],
    ['HardwareVersion too old', { ...ISO, HardwareVersion: 'vmx-03' }, 'HardwareVersion', /vmx-04 or later/],
    ['ExtraConfig not an object', { ...CLONE, ExtraConfig: ['a'] }, 'ExtraConfig', /object/],
    [
      'ExtraConfig userdata',
      { ...CLONE, ExtraConfig: { 'guestinfo.userdata': 'x' } },
      'ExtraConfig["guestinfo.userdata"]',
      /writes this key itself/,
    ],
    [
      'ExtraConfig metadata in another case',
      { ...CLONE, ExtraConfig: { 'GuestInfo.Metadata.Encoding': 'x' } },
      'ExtraConfig["GuestInfo.Metadata.Encoding"]',
      /writes this key itself/,
    ],
    [
      'ExtraConfig value not a string',
      { ...CLONE, ExtraConfig: { 'disk.EnableUUID': true } },
      'ExtraConfig["disk.EnableUUID"]',
      /expected a string/,
    ],
    ['ExtraConfig bad key', { ...CLONE, ExtraConfig: { 'a b': 'x' } }, 'ExtraConfig["a b"]', /not a VMX key/],
    [
      'ExtraConfig same key twice',
      { ...CLONE, ExtraConfig: { 'svga.present': 'TRUE', 'SVGA.present': 'FALSE' } },
      'ExtraConfig["SVGA.present"]',
      /case-insensitive/,
    ],
    [
      'ExtraConfig value XML cannot carry',
      { ...CLONE, ExtraConfig: { 'a.b': 'x\u0001' } },
      'ExtraConfig["a.b"]',
      /U\+0001/,
    ],
    ['ExtraConfig empty value', { ...CLONE, ExtraConfig: { 'a.b': '' } }, 'ExtraConfig["a.b"]', /removes/],
    [
      'PowerOffMode unknown',
      { ...CLONE, PowerOffMode: 'graceful' },
      'PowerOffMode',
      /"hard", "soft", "trySoft"/,
    ],
    [
      'PowerOffTimeoutSeconds too long',
      { ...CLONE, PowerOffTimeoutSeconds: 3601 },
      'PowerOffTimeoutSeconds',
      /1\.\.3600/,
    ],
    [
      'PowerOffTimeoutSeconds with hard',
      { ...CLONE, PowerOffMode: 'hard', PowerOffTimeoutSeconds: 5 },
      'PowerOffTimeoutSeconds',
      /does not apply/,
    ],
  ];
  for (const [name, raw, field, message] of cases) {
    it(name, () => {
      assert.match(issueFor(fail(raw), `Spec.Properties.${field}`), message);
    });
  }

  it('reports every problem at once', () => {
    const error = fail({
      ...CLONE,
      Disks: [{ SizeMB: 0 }, { SizeMB: 1, Provisioning: 'fat' }],
      CPUHotAdd: 'true',
      ExtraConfig: { 'guestinfo.userdata.encoding': 'base64' },
      PowerOffMode: 'now',
    });
    assert.deepEqual(
      error.issues.map((i) => i.field).sort(),
      [
        'Spec.Properties.CPUHotAdd',
        'Spec.Properties.Disks[0].SizeMB',
        'Spec.Properties.Disks[1].Provisioning',
        'Spec.Properties.ExtraConfig["guestinfo.userdata.encoding"]',
        'Spec.Properties.PowerOffMode',
      ].sort(),
    );
  });

  it('a rejected CPUs does not also say CoresPerSocket needs CPUs', () => {
    const error = fail({ ...CLONE, CPUs: 'many', CoresPerSocket: 2 });
    assert.deepEqual(
      error.issues.map((i) => i.field),
      ['Spec.Properties.CPUs'],
    );
  });

  it('reserved keys are every key starting guestinfo.userdata or guestinfo.metadata', () => {
    assert.equal(isReservedExtraConfigKey('guestinfo.userdata'), true);
    assert.equal(isReservedExtraConfigKey('guestinfo.userdata.encoding'), true);
    assert.equal(isReservedExtraConfigKey('GUESTINFO.USERDATA2'), true);
    assert.equal(isReservedExtraConfigKey('guestinfo.user'), false);
    assert.equal(isReservedExtraConfigKey('guestinfo.meta'), false);
  });
});

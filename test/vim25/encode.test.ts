import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  EncodeError,
  encodeRequest,
  fieldsOf,
  InvalidXmlCharacterError,
  localName,
  method,
  moref,
  parseXml,
  typed,
  type XmlElement,
} from '../../src/vim25/index.ts';

const fixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

/** The method element of an encoded request, as text. */
function methodElement(envelope: string): string {
  const start = envelope.indexOf('<soapenv:Body>') + '<soapenv:Body>'.length;
  return envelope.slice(start, envelope.indexOf('</soapenv:Body>'));
}

/** The text between `<tag>` (or `<tag ...>`) and its `</tag>` in `xml`, for a tag that does not nest. */
function inner(xml: string, tag: string): string {
  const open = new RegExp(`<${tag}(?: [^>]*)?>`).exec(xml);
  assert.ok(open, `<${tag}> not found in ${xml}`);
  return xml.slice(open.index + open[0].length, xml.indexOf(`</${tag}>`, open.index));
}

function xsiType(element: XmlElement): string | undefined {
  const attrs = element.attrs ?? [];
  const i = attrs.indexOf('xsi:type');
  return i < 0 ? undefined : attrs[i + 1];
}

/**
 * Independent check of the encoder's main promise: in every element it wrote, the children follow
 * the schema order of the element's (runtime) type.
 */
function assertSchemaOrder(envelope: string, methodName: string): number {
  const root = parseXml(envelope);
  const body = root.children?.find((c) => localName(c.name) === 'Body');
  const call = body?.children?.[0];
  assert.ok(call, 'no method element');
  let checked = 0;
  const check = (
    element: XmlElement,
    names: string[],
    typeOf: (name: string) => string | undefined,
  ): void => {
    let last = -1;
    for (const child of element.children ?? []) {
      const index = names.indexOf(child.name);
      assert.ok(index >= 0, `<${child.name}> is not a field of <${element.name}>`);
      assert.ok(index >= last, `<${child.name}> is out of schema order in <${element.name}>`);
      last = index;
      checked++;
      const type = xsiType(child) ?? typeOf(child.name);
      const fields = type === undefined ? undefined : fieldsOf(type);
      if (fields && child.children) {
        check(
          child,
          fields.map((f) => f.name),
          (n) => fields.find((f) => f.name === n)?.type,
        );
      }
    }
  };
  const params = method(methodName)?.params ?? [];
  check(
    call,
    params.map((p) => p.name),
    (n) => params.find((p) => p.name === n)?.type,
  );
  return checked;
}

const folder = moref('Folder', 'group-v3');

describe('encodeRequest: envelope', () => {
  it('writes a SOAP 1.1 envelope with the vim25 namespace on the method element', () => {
    const xml = encodeRequest('CurrentTime', { _this: moref('ServiceInstance', 'ServiceInstance') });
    assert.equal(
      xml,
      '<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><CurrentTime xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></CurrentTime></soapenv:Body></soapenv:Envelope>',
    );
  });

  it('emits parameters in schema order whatever the key order', () => {
    const xml = encodeRequest('CreateContainerView', {
      recursive: true,
      type: ['VirtualMachine', 'Folder'],
      container: folder,
      _this: moref('ViewManager', 'ViewManager'),
    });
    assert.equal(
      methodElement(xml),
      '<CreateContainerView xmlns="urn:vim25"><_this type="ViewManager">ViewManager</_this><container type="Folder">group-v3</container><type>VirtualMachine</type><type>Folder</type><recursive>true</recursive></CreateContainerView>',
    );
  });
});

describe('encodeRequest: data objects', () => {
  it('orders fields by schema (base type first) for scrambled keys', () => {
    const xml = encodeRequest('RetrievePropertiesEx', {
      options: { maxObjects: 100 },
      specSet: [
        {
          reportMissingObjectsInResults: true,
          objectSet: [
            {
              selectSet: [
                { skip: false, path: 'view', type: 'ContainerView', name: 'v', _type: 'TraversalSpec' },
              ],
              skip: true,
              obj: moref('ContainerView', 'session[1]view'),
            },
          ],
          propSet: [{ pathSet: ['name', 'runtime.powerState'], all: false, type: 'VirtualMachine' }],
        },
      ],
      _this: moref('PropertyCollector', 'propertyCollector'),
    });
    assert.equal(
      methodElement(xml),
      '<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">propertyCollector</_this>' +
        '<specSet><propSet><type>VirtualMachine</type><all>false</all><pathSet>name</pathSet><pathSet>runtime.powerState</pathSet></propSet>' +
        '<objectSet><obj type="ContainerView">session[1]view</obj><skip>true</skip>' +
        '<selectSet xsi:type="TraversalSpec"><name>v</name><type>ContainerView</type><path>view</path><skip>false</skip></selectSet></objectSet>' +
        '<reportMissingObjectsInResults>true</reportMissingObjectsInResults></specSet>' +
        '<options><maxObjects>100</maxObjects></options></RetrievePropertiesEx>',
    );
    assert.ok(assertSchemaOrder(xml, 'RetrievePropertiesEx') > 10);
  });

  // Keys deliberately in reverse schema order everywhere.
  const createVm = (folderRef: string, poolRef: string, networkRef: string): Record<string, unknown> => ({
    pool: moref('ResourcePool', poolRef),
    config: {
      extraConfig: [{ value: 'workers', key: 'guestinfo.infrakit.group' }],
      deviceChange: [
        {
          device: { sharedBus: 'noSharing', busNumber: 0, key: -100, _type: 'ParaVirtualSCSIController' },
          operation: 'add',
        },
        {
          device: {
            capacityInKB: 1048576,
            unitNumber: 0,
            controllerKey: -100,
            backing: {
              thinProvisioned: true,
              diskMode: 'persistent',
              fileName: '',
              _type: 'VirtualDiskFlatVer2BackingInfo',
            },
            key: -101,
            _type: 'VirtualDisk',
          },
          fileOperation: 'create',
          operation: 'add',
        },
        {
          device: {
            unitNumber: 0,
            controllerKey: 200,
            connectable: { connected: true, allowGuestControl: false, startConnected: true },
            backing: { fileName: '[LocalDS_0] iso/linuxkit.iso', _type: 'VirtualCdromIsoBackingInfo' },
            key: -102,
            _type: 'VirtualCdrom',
          },
          operation: 'add',
        },
        {
          device: {
            addressType: 'generated',
            backing: {
              network: moref('Network', networkRef),
              deviceName: 'VM Network',
              _type: 'VirtualEthernetCardNetworkBackingInfo',
            },
            key: -103,
            _type: 'VirtualVmxnet3',
          },
          operation: 'add',
        },
      ],
      memoryMB: 1024,
      numCPUs: 2,
      files: { vmPathName: '[LocalDS_0]' },
      annotation: 'created by capture-fixtures',
      guestId: 'otherLinux64Guest',
      name: 'fixture-vm',
    },
    _this: moref('Folder', folderRef),
  });

  it('writes CreateVM_Task exactly as the schema-ordered request vcsim accepted', () => {
    const accepted = fixture('create-vm-request.xml').trim();
    const ref = (tag: string): string =>
      new RegExp(`<${tag} type="[^"]+">([^<]+)<`).exec(accepted)?.[1] ?? '';
    const xml = encodeRequest('CreateVM_Task', createVm(ref('_this'), ref('pool'), ref('network')));
    assert.equal(methodElement(xml), accepted);
  });

  it('puts xsi:type on every polymorphic value and keeps schema order in each device', () => {
    const xml = encodeRequest('CreateVM_Task', createVm('group-v3', 'resgroup-1', 'network-1'));
    const types = [...xml.matchAll(/<(\w+) xsi:type="([^"]+)"/g)].map((m) => `${m[1]}:${m[2]}`);
    assert.deepEqual(types, [
      'device:ParaVirtualSCSIController',
      'device:VirtualDisk',
      'backing:VirtualDiskFlatVer2BackingInfo',
      'device:VirtualCdrom',
      'backing:VirtualCdromIsoBackingInfo',
      'device:VirtualVmxnet3',
      'backing:VirtualEthernetCardNetworkBackingInfo',
      'value:xsd:string',
    ]);
    assert.ok(assertSchemaOrder(xml, 'CreateVM_Task') > 40);
  });

  it('omits xsi:type when _type is the declared type, and undefined/null fields', () => {
    const xml = encodeRequest('CreateFolder', { _this: folder, name: 'x' });
    assert.doesNotMatch(xml, /xsi:type/);
    const spec = encodeRequest('ReconfigVM_Task', {
      _this: moref('VirtualMachine', 'vm-1'),
      spec: { _type: 'VirtualMachineConfigSpec', annotation: 'a', name: undefined, numCPUs: null },
    });
    assert.equal(inner(spec, 'spec'), '<annotation>a</annotation>');
  });

  it('writes MoRefs (class or plain object) with their type attribute', () => {
    const xml = encodeRequest('MoveIntoFolder_Task', {
      _this: folder,
      list: [moref('VirtualMachine', 'vm-1'), { type: 'VirtualMachine', value: 'vm-2' }],
    });
    assert.match(
      xml,
      /<list type="VirtualMachine">vm-1<\/list><list type="VirtualMachine">vm-2<\/list><\/MoveIntoFolder_Task>/,
    );
  });

  it('writes arrays as repeated elements and an empty array as nothing', () => {
    const xml = encodeRequest('CreateContainerView', {
      _this: moref('ViewManager', 'ViewManager'),
      container: folder,
      type: [],
      recursive: false,
    });
    assert.doesNotMatch(xml, /<type>/);
  });

  it('writes integers, doubles, booleans and dates by their XML type', () => {
    const xml = encodeRequest('WaitForUpdatesEx', {
      _this: moref('PropertyCollector', 'pc'),
      version: '',
      options: { maxWaitSeconds: 30, maxObjectUpdates: 10 },
    });
    assert.equal(
      inner(xml, 'options'),
      '<maxWaitSeconds>30</maxWaitSeconds><maxObjectUpdates>10</maxObjectUpdates>',
    );
    const date = new Date('2026-01-02T03:04:05.678Z');
    const cfg = (createDate: unknown): string =>
      inner(
        encodeRequest('ReconfigVM_Task', { _this: moref('VirtualMachine', 'vm-1'), spec: { createDate } }),
        'createDate',
      );
    assert.equal(cfg(date), '2026-01-02T03:04:05.678Z');
    assert.equal(cfg('2026-01-02T03:04:05+01:00'), '2026-01-02T03:04:05+01:00');
  });
});

describe('encodeRequest: text escaping', () => {
  const cases: Array<[string, string, string]> = [
    ['whitespace only', '   ', '   '],
    ['markup characters', `<&"'>`, '&lt;&amp;&quot;&apos;&gt;'],
    ['CR LF (CR as a reference, LF literal)', 'a\r\nb', 'a&#13;\nb'],
    ['tab stays literal', 'a\tb', 'a\tb'],
    ['CDATA terminator', 'x]]>y', 'x]]&gt;y'],
    ['non-ASCII and astral characters', 'é ü 日本 😀', 'é ü 日本 😀'],
    ['leading and trailing spaces', '  lead trail  ', '  lead trail  '],
    ['empty string', '', ''],
  ];
  for (const [label, input, expected] of cases) {
    it(label, () => {
      const xml = encodeRequest('CreateFolder', { _this: folder, name: input });
      assert.equal(inner(xml, 'name'), expected);
    });
  }

  it('escapes attribute values too', () => {
    const xml = encodeRequest('CreateFolder', { _this: moref('Folder"<', 'a&b'), name: 'n' });
    assert.match(xml, /<_this type="Folder&quot;&lt;">a&amp;b<\/_this>/);
  });
});

describe('encodeRequest: refuses what XML 1.0 cannot carry', () => {
  const cases: Array<[string, string, number]> = [
    ['NUL', 'a\u0000b', 0x0],
    ['U+0001', '\u0001', 0x1],
    ['vertical tab', 'a\u000Bb', 0xb],
    ['form feed', '\u000C', 0xc],
    ['escape (ANSI colour)', 'red\u001B[31m', 0x1b],
    ['U+001F', '\u001F', 0x1f],
    ['U+FFFE', '\uFFFE', 0xfffe],
    ['U+FFFF', 'x\uFFFF', 0xffff],
    ['lone high surrogate', 'a\uD800b', 0xd800],
    ['lone low surrogate', '\uDC00', 0xdc00],
    ['high surrogate at the end', 'ok\uD83D', 0xd83d],
  ];
  for (const [label, input, codePoint] of cases) {
    it(label, () => {
      assert.throws(
        () =>
          encodeRequest('ReconfigVM_Task', {
            _this: moref('VirtualMachine', 'vm-1'),
            spec: {
              extraConfig: [
                { key: 'k', value: 'ok' },
                { key: 'k2', value: input },
              ],
            },
          }),
        (error: unknown) => {
          assert.ok(error instanceof InvalidXmlCharacterError);
          assert.ok(error instanceof EncodeError);
          assert.equal(error.code, 'VIM25_INVALID_XML_CHAR');
          assert.equal(error.codePoint, codePoint);
          assert.equal(error.path, 'ReconfigVM_Task.spec.extraConfig[1].value');
          assert.match(error.message, /^ReconfigVM_Task\.spec\.extraConfig\[1\]\.value: character U\+/);
          return true;
        },
      );
    });
  }
});

describe('encodeRequest: refuses values the schema does not allow, naming the path', () => {
  const vm = moref('VirtualMachine', 'vm-1');
  const device = (backing: Record<string, unknown>): Record<string, unknown> => ({
    _this: folder,
    pool: moref('ResourcePool', 'rp'),
    config: { deviceChange: [{ operation: 'add', device: { _type: 'VirtualCdrom', key: -1, backing } }] },
  });
  const cases: Array<[string, string, Record<string, unknown>, string, RegExp]> = [
    [
      'unknown field deep in a polymorphic value',
      'CreateVM_Task',
      device({ _type: 'VirtualCdromIsoBackingInfo', fileNmae: 'x.iso' }),
      'CreateVM_Task.config.deviceChange[0].device.backing.fileNmae',
      /unknown field of VirtualCdromIsoBackingInfo/,
    ],
    [
      'string for an int',
      'CreateVM_Task',
      {
        _this: folder,
        pool: moref('ResourcePool', 'rp'),
        config: { deviceChange: [{ device: { _type: 'VirtualCdrom', key: '-1' } }] },
      },
      'CreateVM_Task.config.deviceChange[0].device.key',
      /expected a number \(int\), got a string/,
    ],
    [
      'a _type that is not a subtype of the declared type',
      'CreateVM_Task',
      device({ _type: 'VirtualDisk' }),
      'CreateVM_Task.config.deviceChange[0].device.backing',
      /VirtualDisk is not a subtype of VirtualDeviceBackingInfo/,
    ],
    [
      'an unknown _type',
      'CreateVM_Task',
      device({ _type: 'VirtualFloppyOfTheFuture' }),
      'CreateVM_Task.config.deviceChange[0].device.backing',
      /unknown type VirtualFloppyOfTheFuture/,
    ],
    [
      'a non-integer for an int',
      'ReconfigVM_Task',
      { _this: vm, spec: { numCPUs: 1.5 } },
      'ReconfigVM_Task.spec.numCPUs',
      /expected an integer \(int\), got 1.5/,
    ],
    [
      'an int out of range',
      'ReconfigVM_Task',
      { _this: vm, spec: { numCPUs: 2 ** 31 } },
      'ReconfigVM_Task.spec.numCPUs',
      /out of range for int/,
    ],
    [
      'a number for a boolean',
      'ReconfigVM_Task',
      { _this: vm, spec: { memoryHotAddEnabled: 1 } },
      'ReconfigVM_Task.spec.memoryHotAddEnabled',
      /expected a boolean, got number 1/,
    ],
    [
      'a single value for an array field',
      'ReconfigVM_Task',
      { _this: vm, spec: { extraConfig: { key: 'a', value: 'b' } } },
      'ReconfigVM_Task.spec.extraConfig',
      /expected an array of OptionValue/,
    ],
    [
      'a string where an object is declared',
      'ReconfigVM_Task',
      { _this: vm, spec: { files: '[ds] x' } },
      'ReconfigVM_Task.spec.files',
      /expected a VirtualMachineFileInfo object/,
    ],
    [
      'a plain object where a MoRef is declared',
      'CreateVM_Task',
      { _this: folder, config: {}, pool: { value: 'rp' } },
      'CreateVM_Task.pool',
      /expected a ManagedObjectReference/,
    ],
    [
      'an unknown parameter',
      'CreateFolder',
      { _this: folder, name: 'x', parent: folder },
      'CreateFolder.parent',
      /unknown parameter \(expected one of _this, name\)/,
    ],
    ['a missing _this', 'CreateFolder', { name: 'x' }, 'CreateFolder._this', /required/],
    [
      'an unknown method',
      'FormatTheDatastore_Task',
      { _this: folder },
      'FormatTheDatastore_Task',
      /unknown vim25 method/,
    ],
    [
      'an invalid dateTime string',
      'ReconfigVM_Task',
      { _this: vm, spec: { createDate: 'yesterday' } },
      'ReconfigVM_Task.spec.createDate',
      /ISO 8601/,
    ],
    [
      'an anyType object without _type',
      'UpdateOptions',
      { _this: moref('OptionManager', 'VpxSettings'), changedValue: [{ key: 'k', value: { a: 1 } }] },
      'UpdateOptions.changedValue[0].value',
      /needs a _type/,
    ],
    [
      'an undefined array item',
      'UpdateOptions',
      { _this: moref('OptionManager', 'VpxSettings'), changedValue: [undefined] },
      'UpdateOptions.changedValue[0]',
      /array items cannot be undefined/,
    ],
  ];
  for (const [label, methodName, params, path, message] of cases) {
    it(label, () => {
      assert.throws(
        () => encodeRequest(methodName, params),
        (error: unknown) => {
          assert.ok(error instanceof EncodeError, `expected EncodeError, got ${String(error)}`);
          assert.equal(error.code, 'VIM25_ENCODE');
          assert.equal(error.path, path);
          assert.match(error.message, message);
          assert.ok(error.message.startsWith(`${path}: `));
          return true;
        },
      );
    });
  }

  it('does not quote string values in errors (they may be secrets)', () => {
    assert.throws(
      () =>
        encodeRequest('Login', {
          _this: moref('SessionManager', 'SessionManager'),
          userName: 'u',
          password: 7,
        }),
      (error: unknown) => error instanceof EncodeError && error.message.includes('got number 7'),
    );
    assert.throws(
      () =>
        encodeRequest('ReconfigVM_Task', {
          _this: moref('VirtualMachine', 'vm-1'),
          spec: { numCPUs: 'hunter2' },
        }),
      (error: unknown) => error instanceof EncodeError && !error.message.includes('hunter2'),
    );
  });
});

describe('encodeRequest: anyType values', () => {
  const option = (value: unknown): string =>
    inner(
      encodeRequest('UpdateOptions', {
        _this: moref('OptionManager', 'VpxSettings'),
        changedValue: [{ key: 'k', value }],
      }),
      'changedValue',
    ).replace('<key>k</key>', '');
  const cases: Array<[string, unknown, string]> = [
    ['string', '2s', '<value xsi:type="xsd:string">2s</value>'],
    ['empty string', '', '<value xsi:type="xsd:string"></value>'],
    ['boolean', true, '<value xsi:type="xsd:boolean">true</value>'],
    ['integer', 42, '<value xsi:type="xsd:long">42</value>'],
    ['bigint', 2n ** 60n, `<value xsi:type="xsd:long">${2n ** 60n}</value>`],
    ['double', 1.5, '<value xsi:type="xsd:double">1.5</value>'],
    ['typed int', typed('xsd:int', 3), '<value xsi:type="xsd:int">3</value>'],
    ['typed short without prefix', typed('short', 3), '<value xsi:type="xsd:short">3</value>'],
    ['typed string escapes', typed('xsd:string', '<x>'), '<value xsi:type="xsd:string">&lt;x&gt;</value>'],
    [
      'typed enum value',
      typed('VirtualMachinePowerState', 'poweredOn'),
      '<value xsi:type="VirtualMachinePowerState">poweredOn</value>',
    ],
    [
      'Date',
      new Date('2026-01-02T03:04:05Z'),
      '<value xsi:type="xsd:dateTime">2026-01-02T03:04:05.000Z</value>',
    ],
    [
      'MoRef',
      moref('VirtualMachine', 'vm-1'),
      '<value type="VirtualMachine" xsi:type="ManagedObjectReference">vm-1</value>',
    ],
    [
      'plain MoRef object',
      { _type: 'ManagedObjectReference', type: 'Folder', value: 'group-1' },
      '<value type="Folder" xsi:type="ManagedObjectReference">group-1</value>',
    ],
    [
      'string array',
      ['a', 'b'],
      '<value xsi:type="ArrayOfString"><string>a</string><string>b</string></value>',
    ],
    [
      'MoRef array',
      [moref('HostSystem', 'host-1')],
      '<value xsi:type="ArrayOfManagedObjectReference"><ManagedObjectReference type="HostSystem">host-1</ManagedObjectReference></value>',
    ],
    [
      'data object',
      { _type: 'OptionValue', value: 1, key: 'inner' },
      '<value xsi:type="OptionValue"><key>inner</key><value xsi:type="xsd:long">1</value></value>',
    ],
  ];
  for (const [label, value, expected] of cases) {
    it(label, () => assert.equal(option(value), expected));
  }

  it('refuses a typed value that does not match its type', () => {
    assert.throws(() => option(typed('xsd:int', 'three')), /expected a number \(int\), got a string/);
    assert.throws(() => option(typed('xsd:boolean', 1)), /expected a boolean/);
    assert.throws(() => option([]), /must be non-empty/);
    assert.throws(() => option(['a', 1]), /one kind of value/);
  });
});

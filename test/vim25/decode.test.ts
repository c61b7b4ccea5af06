import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  DecodeError,
  decodeResponse,
  encodeRequest,
  ManagedObjectReference,
  moref,
  VimFault,
} from '../../src/vim25/index.ts';
import { largeRetrieveResponse } from './bench-decode.ts';

const fixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

const ENVELOPE_START =
  '<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>';
const ENVELOPE_END = '</soapenv:Body></soapenv:Envelope>';

/** A response envelope the way vcsim writes it. */
const envelope = (body: string): string => `${ENVELOPE_START}${body}${ENVELOPE_END}`;

/** A one-object RetrievePropertiesEx response whose single property value is `val` (vcsim's spelling). */
function retrieveWith(valType: string, valBody: string, attrs = ''): string {
  return envelope(
    `<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><obj type="VirtualMachine">vm-1</obj><propSet><name>p</name><val${attrs} xmlns:_XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" _XMLSchema-instance:type="${valType}">${valBody}</val></propSet></objects></returnval></RetrievePropertiesExResponse>`,
  );
}

interface Props {
  obj: ManagedObjectReference;
  props: Map<string, unknown>;
  missing: Array<Record<string, unknown>> | undefined;
}

/** Flattens a decoded RetrieveResult into obj -> property map, as a provider would read it. */
function objectsOf(result: unknown): Props[] {
  const r = result as { objects: Array<Record<string, unknown>> };
  return r.objects.map((o) => ({
    obj: o.obj as ManagedObjectReference,
    props: new Map(((o.propSet ?? []) as Array<{ name: string; val?: unknown }>).map((p) => [p.name, p.val])),
    missing: o.missingSet as Array<Record<string, unknown>> | undefined,
  }));
}

function propertyValue(xml: string): unknown {
  return objectsOf(decodeResponse(xml, 'RetrievePropertiesEx'))[0]?.props.get('p');
}

describe('decodeResponse: RetrievePropertiesEx from vcsim', () => {
  const result = decodeResponse(fixture('retrieve-vms.xml'), 'RetrievePropertiesEx') as Record<
    string,
    unknown
  >;
  const objects = objectsOf(result);

  it('decodes every object with a MoRef and its properties, and keeps the paging token', () => {
    assert.equal(result._type, 'RetrieveResult');
    assert.equal(typeof result.token, 'string');
    assert.equal(objects.length, 4);
    for (const o of objects) {
      assert.ok(o.obj instanceof ManagedObjectReference);
      assert.equal(o.obj.type, 'VirtualMachine');
      assert.equal(typeof o.props.get('name'), 'string');
    }
    assert.deepEqual(
      objects.map((o) => o.props.get('runtime.powerState')),
      ['poweredOn', 'poweredOn', 'poweredOn', 'poweredOn'],
    );
  });

  it('types primitives by their xsi:type: int -> number, boolean -> boolean, MoRef -> class', () => {
    const first = objects[0]!;
    assert.equal(first.props.get('summary.config.numCpu'), 1);
    assert.equal(first.props.get('config.template'), false);
    const parent = first.props.get('parent');
    assert.ok(parent instanceof ManagedObjectReference);
    assert.equal(parent.type, 'Folder');
  });

  it('keeps single-element arrays as arrays (ArrayOfGuestNicInfo with one NIC and one IP)', () => {
    const net = objects[0]!.props.get('guest.net');
    assert.deepEqual(net, [
      {
        _type: 'GuestNicInfo',
        ipAddress: ['10.0.0.5'],
        macAddress: '00:0c:29:63:65:61',
        connected: true,
        deviceConfigId: 4000,
      },
    ]);
    const extraConfig = objects[0]!.props.get('config.extraConfig');
    assert.deepEqual(extraConfig, [{ _type: 'OptionValue', key: 'govcsim', value: 'TRUE' }]);
  });

  it('preserves text exactly: spaces, markup characters, CR LF, ]]>, non-ASCII', () => {
    assert.equal(
      objects[0]!.props.get('config.annotation'),
      `  lead & <tag> "dq" 'sq'\r\nline2 ]]> é 😀 trail  `,
    );
    assert.equal(objects[1]!.props.get('config.annotation'), '   ');
  });

  it('leaves a property without a value absent, not an empty string', () => {
    const more = objectsOf(decodeResponse(fixture('continue-retrieve.xml'), 'ContinueRetrievePropertiesEx'));
    assert.ok(more.length > 0);
    assert.equal(more[0]!.props.has('guest.ipAddress'), true);
    assert.equal(more[0]!.props.get('guest.ipAddress'), undefined);
  });

  it('decodes missingSet faults under vcsim nested XMLSchema-instance prefixes', () => {
    const [folder] = objectsOf(
      decodeResponse(fixture('retrieve-unauthenticated.xml'), 'RetrievePropertiesEx'),
    );
    assert.equal(folder!.props.size, 0);
    assert.deepEqual(folder!.missing, [
      {
        _type: 'MissingProperty',
        path: 'name',
        fault: {
          _type: 'LocalizedMethodFault',
          fault: {
            _type: 'NotAuthenticated',
            object: moref('Folder', 'group-d1'),
            privilegeId: 'System.Read',
          },
        },
      },
      {
        _type: 'MissingProperty',
        path: 'childEntity',
        fault: {
          _type: 'LocalizedMethodFault',
          fault: {
            _type: 'NotAuthenticated',
            object: moref('Folder', 'group-d1'),
            privilegeId: 'System.Read',
          },
        },
      },
    ]);
  });

  it('decodes polymorphic devices by xsi:type with their fields typed', () => {
    const [vm] = objectsOf(decodeResponse(fixture('retrieve-devices.xml'), 'RetrievePropertiesEx'));
    const devices = vm!.props.get('config.hardware.device') as Array<Record<string, unknown>>;
    const byType = new Map(devices.map((d) => [d._type, d]));
    assert.ok(devices.length >= 8);
    const cdrom = byType.get('VirtualCdrom')!;
    assert.deepEqual(cdrom.backing, {
      _type: 'VirtualCdromIsoBackingInfo',
      fileName: '[LocalDS_0] iso/linuxkit.iso',
    });
    assert.equal((cdrom.connectable as Record<string, unknown>).startConnected, true);
    const nic = byType.get('VirtualVmxnet3')!;
    const backing = nic.backing as Record<string, unknown>;
    assert.equal(backing._type, 'VirtualEthernetCardNetworkBackingInfo');
    assert.ok(backing.network instanceof ManagedObjectReference);
    assert.equal(typeof nic.key, 'number');
    const disk = byType.get('VirtualDisk')!;
    assert.equal((disk.backing as Record<string, unknown>)._type, 'VirtualDiskFlatVer2BackingInfo');
    assert.equal(disk.capacityInKB, 1048576);
    assert.deepEqual(byType.get('VirtualPCIController')!.device, [500, 12000, 205]);
    // A missing array field stays absent rather than becoming [].
    const ide = devices.find((d) => d._type === 'VirtualIDEController')!;
    assert.equal(Object.hasOwn(ide, 'device'), false);
    const files = vm!.props.get('config.files') as Record<string, unknown>;
    assert.equal(files._type, 'VirtualMachineFileInfo');
  });
});

describe('decodeResponse: values by type', () => {
  it('ArrayOfString, ArrayOfInt, ArrayOfManagedObjectReference', () => {
    assert.deepEqual(propertyValue(retrieveWith('ArrayOfString', '<string>a</string>')), ['a']);
    assert.deepEqual(propertyValue(retrieveWith('ArrayOfInt', '<int>1</int><int>-2</int>')), [1, -2]);
    assert.deepEqual(
      propertyValue(
        retrieveWith(
          'ArrayOfManagedObjectReference',
          '<ManagedObjectReference type="Datastore">ds-1</ManagedObjectReference>',
        ),
      ),
      [moref('Datastore', 'ds-1')],
    );
    assert.deepEqual(propertyValue(retrieveWith('ArrayOfString', '')), []);
  });

  it('numeric character references, decimal and hex', () => {
    assert.equal(propertyValue(retrieveWith('xsd:string', 'a&#13;&#10;b&#xA;c&#x1F600;')), 'a\r\nb\nc😀');
    assert.equal(propertyValue(retrieveWith('xsd:string', '&lt;&gt;&amp;&quot;&apos;')), `<>&"'`);
  });

  it('whitespace-only and empty strings, and CDATA', () => {
    assert.equal(propertyValue(retrieveWith('xsd:string', '   ')), '   ');
    assert.equal(propertyValue(retrieveWith('xsd:string', '\t\n ')), '\t\n ');
    assert.equal(propertyValue(retrieveWith('xsd:string', '')), '');
    assert.equal(propertyValue(retrieveWith('xsd:string', '<![CDATA[ <b> & ]]>')), ' <b> & ');
  });

  it('a literal CR LF is normalised to LF (XML end-of-line rule); &#13; is how CR travels', () => {
    assert.equal(propertyValue(retrieveWith('xsd:string', 'a\r\nb')), 'a\nb');
  });

  it('numbers: long past 2^53 becomes a bigint, doubles and INF parse, junk stays text', () => {
    assert.equal(propertyValue(retrieveWith('xsd:long', '9007199254740993')), 9007199254740993n);
    assert.equal(propertyValue(retrieveWith('xsd:long', '-42')), -42);
    assert.equal(propertyValue(retrieveWith('xsd:double', '1.5e3')), 1500);
    assert.equal(propertyValue(retrieveWith('xsd:float', 'INF')), Number.POSITIVE_INFINITY);
    assert.equal(propertyValue(retrieveWith('xsd:int', 'n/a')), 'n/a');
    assert.equal(propertyValue(retrieveWith('xsd:boolean', '1')), true);
  });

  it('dateTime stays the string the server sent', () => {
    assert.equal(
      propertyValue(retrieveWith('xsd:dateTime', '2026-11-25T18:32:31.30471991Z')),
      '2026-11-25T18:32:31.30471991Z',
    );
  });

  it('an enum value is its string', () => {
    assert.equal(propertyValue(retrieveWith('VirtualMachinePowerState', 'suspended')), 'suspended');
  });

  it('a MoRef keeps serverGuid when sent', () => {
    const ref = propertyValue(
      retrieveWith('ManagedObjectReference', 'vm-9', ' type="VirtualMachine" serverGuid="g-1"'),
    );
    assert.ok(ref instanceof ManagedObjectReference);
    assert.deepEqual([ref.type, ref.value, ref.serverGuid], ['VirtualMachine', 'vm-9', 'g-1']);
  });

  it('xsi:type is found under any prefix, including nested redeclarations', () => {
    const xml = retrieveWith(
      'ArrayOfOptionValue',
      '<OptionValue xmlns:x="http://www.w3.org/2001/XMLSchema-instance" x:type="OptionValue"><key>a</key><value xsi:type="xsd:int">7</value></OptionValue>' +
        '<OptionValue><key>b</key><value _XMLSchema-instance:type="xsd:boolean">true</value></OptionValue>',
    );
    assert.deepEqual(propertyValue(xml), [
      { _type: 'OptionValue', key: 'a', value: 7 },
      { _type: 'OptionValue', key: 'b', value: true },
    ]);
  });

  it('an xmlns:type declaration is not mistaken for xsi:type', () => {
    const xml = retrieveWith('GuestNicInfo', '<network xmlns:type="urn:x">VM Network</network>');
    assert.deepEqual(propertyValue(xml), { _type: 'GuestNicInfo', network: 'VM Network' });
  });
});

describe('decodeResponse: types and fields the schema does not know are kept', () => {
  it('an unknown field of a known type is kept (generic decode)', () => {
    const xml = retrieveWith(
      'GuestNicInfo',
      '<macAddress>m</macAddress><futureField><a>1</a><a>2</a><ref type="HostSystem">host-1</ref></futureField>',
    );
    assert.deepEqual(propertyValue(xml), {
      _type: 'GuestNicInfo',
      macAddress: 'm',
      futureField: { a: ['1', '2'], ref: moref('HostSystem', 'host-1') },
    });
  });

  it('element names such as __proto__ and constructor become plain fields', () => {
    const value = propertyValue(
      retrieveWith(
        'FutureThing',
        '<__proto__><polluted>yes</polluted></__proto__><constructor>c</constructor>',
      ),
    ) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(value, '__proto__')?.value, { polluted: 'yes' });
    assert.equal(value.constructor, 'c');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('an unknown xsi:type with children becomes an object with _type', () => {
    assert.deepEqual(propertyValue(retrieveWith('FutureThing', '<x>1</x><y/>')), {
      _type: 'FutureThing',
      x: '1',
      y: '',
    });
  });

  it('an unknown subtype of a known type is decoded by the known base type', () => {
    const xml = retrieveWith(
      'ArrayOfVirtualDevice',
      '<VirtualDevice _XMLSchema-instance:type="VirtualQuantumDevice"><key>9</key><qubits>3</qubits></VirtualDevice>',
    );
    assert.deepEqual(propertyValue(xml), [{ _type: 'VirtualQuantumDevice', key: 9, qubits: '3' }]);
  });

  it('an unknown ArrayOf decodes each item generically', () => {
    assert.deepEqual(propertyValue(retrieveWith('ArrayOfFutureEnum', '<FutureEnum>a</FutureEnum>')), ['a']);
  });

  it('a method the schema does not know decodes generically', () => {
    const xml = envelope(
      '<QueryFutureResponse xmlns="urn:vim25"><returnval><a>1</a></returnval><returnval><a>2</a></returnval></QueryFutureResponse>',
    );
    assert.deepEqual(decodeResponse(xml, 'QueryFuture'), [{ a: '1' }, { a: '2' }]);
  });
});

describe('decodeResponse: return values', () => {
  it('a MoRef return value (CreateFolder)', () => {
    const ref = decodeResponse(fixture('create-folder.xml'), 'CreateFolder');
    assert.ok(ref instanceof ManagedObjectReference);
    assert.equal(ref.type, 'Folder');
  });

  it('no returnval is undefined (FindByInventoryPath of a missing path, Logout)', () => {
    assert.equal(
      decodeResponse(fixture('find-by-inventory-path-absent.xml'), 'FindByInventoryPath'),
      undefined,
    );
    assert.equal(decodeResponse(fixture('logout.xml'), 'Logout'), undefined);
  });

  it('an array-returning method always returns an array', () => {
    const options = decodeResponse(fixture('query-options.xml'), 'QueryOptions') as Array<
      Record<string, unknown>
    >;
    assert.ok(options.length > 1);
    assert.equal(options[0]!._type, 'OptionValue');
    assert.deepEqual(
      decodeResponse(envelope('<QueryOptionsResponse xmlns="urn:vim25"/>'), 'QueryOptions'),
      [],
    );
    const one = decodeResponse(
      envelope(
        '<QueryOptionsResponse xmlns="urn:vim25"><returnval xsi:type="OptionValue"><key>k</key><value xsi:type="xsd:string">v</value></returnval></QueryOptionsResponse>',
      ),
      'QueryOptions',
    );
    assert.deepEqual(one, [{ _type: 'OptionValue', key: 'k', value: 'v' }]);
  });

  it('ServiceContent, UserSession and CurrentTime', () => {
    const sc = decodeResponse(fixture('service-content.xml'), 'RetrieveServiceContent') as Record<
      string,
      unknown
    >;
    assert.equal(sc._type, 'ServiceContent');
    assert.deepEqual(sc.propertyCollector, moref('PropertyCollector', 'propertyCollector'));
    assert.equal((sc.about as Record<string, unknown>).apiType, 'VirtualCenter');
    const session = decodeResponse(fixture('login.xml'), 'Login') as Record<string, unknown>;
    assert.equal(session._type, 'UserSession');
    assert.equal(session.userName, 'user');
    assert.equal(session.callCount, 1);
    assert.match(decodeResponse(fixture('current-time.xml'), 'CurrentTime') as string, /^\d{4}-\d\d-\d\dT/);
  });

  it('WaitForUpdatesEx: UpdateSet with filterSet, objectSet and changeSet arrays', () => {
    const update = decodeResponse(fixture('wait-for-updates.xml'), 'WaitForUpdatesEx') as Record<
      string,
      unknown
    >;
    assert.equal(update._type, 'UpdateSet');
    const [filter] = update.filterSet as Array<Record<string, unknown>>;
    const [object] = filter!.objectSet as Array<Record<string, unknown>>;
    assert.equal(object!.kind, 'enter');
    assert.ok(object!.obj instanceof ManagedObjectReference);
    assert.deepEqual(object!.changeSet, [
      { _type: 'PropertyChange', name: 'info.state', op: 'assign', val: 'success' },
      { _type: 'PropertyChange', name: 'info.error', op: 'assign' },
    ]);
  });

  it('a completed task carries its result typed by xsi:type', () => {
    const [task] = objectsOf(decodeResponse(fixture('task-info-success.xml'), 'RetrievePropertiesEx'));
    const info = task!.props.get('info') as Record<string, unknown>;
    assert.equal(info._type, 'TaskInfo');
    assert.equal(info.state, 'success');
    assert.ok(info.result instanceof ManagedObjectReference);
    assert.equal(info.result.type, 'VirtualMachine');
    assert.deepEqual(info.reason, { _type: 'TaskReasonUser', userName: 'vcsim' });
  });

  it('an empty element typed by xsi:type keeps its type (empty NotSupported fault)', () => {
    const [task] = objectsOf(decodeResponse(fixture('task-info-not-supported.xml'), 'RetrievePropertiesEx'));
    const info = task!.props.get('info') as Record<string, unknown>;
    assert.deepEqual(info.error, {
      _type: 'LocalizedMethodFault',
      fault: { _type: 'NotSupported' },
      localizedMessage: '*types.NotSupported',
    });
  });

  it('accepts bytes (Buffer, Uint8Array) as well as text', () => {
    const bytes = readFileSync(new URL('./fixtures/retrieve-vms.xml', import.meta.url));
    const fromBuffer = decodeResponse(bytes, 'RetrievePropertiesEx');
    const fromArray = decodeResponse(new Uint8Array(bytes), 'RetrievePropertiesEx');
    assert.deepEqual(fromBuffer, decodeResponse(bytes.toString('utf8'), 'RetrievePropertiesEx'));
    assert.deepEqual(fromArray, fromBuffer);
  });
});

describe('decodeResponse: refuses what is not a well-formed SOAP envelope', () => {
  const cases: Array<[string, string | Uint8Array, RegExp]> = [
    ['empty body', '', /no root element/],
    ['plain text', 'Service Unavailable', /text outside the root element/],
    ['HTML error page', '<html><body><h1>503</h1></body></html>', /not a SOAP envelope/],
    [
      'truncated document',
      `${ENVELOPE_START}<CurrentTimeResponse xmlns="urn:vim25"><returnval>2026`,
      /is not closed/,
    ],
    ['mismatched tags', envelope('<CurrentTimeResponse><a></b></CurrentTimeResponse>'), /<\/b> closes <a>/],
    ['unquoted attribute', envelope('<a x=1/>'), /must be quoted/],
    [
      'unknown entity',
      envelope('<CurrentTimeResponse>&nbsp;</CurrentTimeResponse>'),
      /undeclared entity &nbsp;/,
    ],
    ['bare ampersand', envelope('<CurrentTimeResponse>a & b</CurrentTimeResponse>'), /'&' must start/],
    [
      'character reference to NUL',
      envelope('<CurrentTimeResponse>&#0;</CurrentTimeResponse>'),
      /not a character/,
    ],
    ['two root elements', `${envelope('')}<x/>`, /content after the root element/],
    ['unterminated comment', `${ENVELOPE_START}<!-- x`, /unterminated comment/],
    ['duplicate attribute', envelope('<a x="1" x="2"/>'), /duplicate attribute x/],
    [
      'envelope without Body',
      '<soapenv:Envelope xmlns:soapenv="urn:x"><soapenv:Header/></soapenv:Envelope>',
      /no Body/,
    ],
    ['empty Body', envelope(''), /Body is empty/],
    ['answer to another method', fixture('current-time.xml'), /expected <LoginResponse>/],
    ['invalid UTF-8', new Uint8Array([0x3c, 0x61, 0x3e, 0xff, 0x3c, 0x2f, 0x61, 0x3e]), /not valid UTF-8/],
    [
      'nesting bomb',
      envelope(`<CurrentTimeResponse>${'<a>'.repeat(10000)}${'</a>'.repeat(10000)}</CurrentTimeResponse>`),
      /deeper than 512/,
    ],
  ];
  for (const [label, input, message] of cases) {
    it(label, () => {
      const methodName = label === 'answer to another method' ? 'Login' : 'CurrentTime';
      assert.throws(
        () => decodeResponse(input, methodName),
        (error: unknown) => {
          assert.ok(error instanceof DecodeError, `expected DecodeError, got ${String(error)}`);
          assert.equal(error.code, 'VIM25_DECODE');
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }

  const doctypes: Array<[string, string]> = [
    [
      'entity expansion (billion laughs)',
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><CurrentTimeResponse><returnval>&lol2;</returnval></CurrentTimeResponse></soapenv:Body></soapenv:Envelope>',
    ],
    [
      'external entity (XXE)',
      '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><CurrentTimeResponse><returnval>&xxe;</returnval></CurrentTimeResponse></soapenv:Body></soapenv:Envelope>',
    ],
    ['DOCTYPE inside the document', envelope('<!DOCTYPE x><CurrentTimeResponse/>')],
  ];
  for (const [label, input] of doctypes) {
    it(`rejects a DOCTYPE: ${label}`, () => {
      assert.throws(
        () => decodeResponse(input, 'CurrentTime'),
        (error: unknown) => error instanceof DecodeError && /DOCTYPE is not allowed/.test(error.message),
      );
    });
  }

  it('never throws a TypeError for non-text input', () => {
    for (const bad of [null, undefined, 42, {}]) {
      assert.throws(
        () => decodeResponse(bad as unknown as string, 'CurrentTime'),
        (error: unknown) => error instanceof DecodeError,
      );
    }
  });
});

describe('round trip: encode, wrap as vcsim returns it, decode', () => {
  const spec = {
    _type: 'VirtualMachineConfigSpec',
    name: 'rt-vm',
    annotation: '   <&"\'>\r\n]]> é 😀   ',
    numCPUs: 2,
    memoryMB: 4096,
    deviceChange: [
      {
        _type: 'VirtualDeviceConfigSpec',
        operation: 'add',
        device: {
          _type: 'VirtualCdrom',
          key: -1,
          backing: { _type: 'VirtualCdromIsoBackingInfo', fileName: '[ds] a.iso' },
          connectable: {
            _type: 'VirtualDeviceConnectInfo',
            startConnected: true,
            allowGuestControl: false,
            connected: false,
          },
          controllerKey: 200,
          unitNumber: 0,
        },
      },
      {
        _type: 'VirtualDeviceConfigSpec',
        operation: 'add',
        device: {
          _type: 'VirtualVmxnet3',
          key: -2,
          backing: {
            _type: 'VirtualEthernetCardNetworkBackingInfo',
            deviceName: 'VM Network',
            network: moref('Network', 'network-7'),
          },
          addressType: 'generated',
        },
      },
    ],
    extraConfig: [
      { _type: 'OptionValue', key: 'a', value: 'x' },
      { _type: 'OptionValue', key: 'b', value: true },
      { _type: 'OptionValue', key: 'c', value: 12 },
      { _type: 'OptionValue', key: 'd', value: ['one'] },
    ],
  };

  it('gives back the same value, _type included', () => {
    const request = encodeRequest('ReconfigVM_Task', { _this: moref('VirtualMachine', 'vm-1'), spec });
    const inner = request.slice(request.indexOf('<spec>') + '<spec>'.length, request.lastIndexOf('</spec>'));
    const response = retrieveWith('VirtualMachineConfigSpec', inner);
    assert.deepEqual(propertyValue(response), spec);
  });

  it('a string array round-trips through an anyType as ArrayOfString', () => {
    const request = encodeRequest('UpdateOptions', {
      _this: moref('OptionManager', 'VpxSettings'),
      changedValue: [{ key: 'k', value: ['a', ' b ', ''] }],
    });
    const inner = request.slice(
      request.indexOf('<changedValue>') + 14,
      request.lastIndexOf('</changedValue>'),
    );
    const response = envelope(
      `<QueryOptionsResponse xmlns="urn:vim25"><returnval xsi:type="OptionValue">${inner}</returnval></QueryOptionsResponse>`,
    );
    assert.deepEqual(decodeResponse(response, 'QueryOptions'), [
      { _type: 'OptionValue', key: 'k', value: ['a', ' b ', ''] },
    ]);
  });
});

describe('decodeResponse: faults', () => {
  it('a SOAP fault becomes a VimFault with type, detail and hierarchy', () => {
    assert.throws(
      () => decodeResponse(fixture('fault-duplicate-name.xml'), 'CreateFolder'),
      (error: unknown) => {
        assert.ok(error instanceof VimFault);
        assert.equal(error.code, 'VIM_FAULT');
        assert.equal(error.faultType, 'DuplicateName');
        assert.equal(error.faultString, '');
        assert.equal(error.detail._type, 'DuplicateName');
        assert.equal(error.detail.name, 'fixtures');
        assert.ok(error.detail.object instanceof ManagedObjectReference);
        assert.equal(error.message, "DuplicateName: The name 'fixtures' already exists.");
        assert.ok(error.is('DuplicateName'));
        assert.ok(error.is('VimFault'));
        assert.ok(error.is('MethodFault'));
        assert.ok(!error.is('RuntimeFault'));
        return true;
      },
    );
  });

  it('vcsim NotAuthenticated carries its detail', () => {
    assert.throws(
      () => decodeResponse(fixture('fault-not-authenticated.xml'), 'CurrentTime'),
      (error: unknown) => {
        assert.ok(error instanceof VimFault);
        assert.equal(error.faultType, 'NotAuthenticated');
        assert.ok(error.is('NoPermission'));
        assert.ok(error.is('SecurityError'));
        assert.ok(error.is('RuntimeFault'));
        assert.equal(error.detail.privilegeId, 'System.View');
        return true;
      },
    );
  });
});

describe('decodeResponse: large responses', () => {
  const bestOf = (runs: number, fn: () => void): number => {
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      fn();
      best = Math.min(best, performance.now() - start);
    }
    return best;
  };

  it('decodes 2,000 VMs completely', () => {
    const objects = objectsOf(decodeResponse(largeRetrieveResponse(2000), 'RetrievePropertiesEx'));
    assert.equal(objects.length, 2000);
    assert.equal(new Set(objects.map((o) => o.obj.value)).size, 2000);
    for (const o of objects) assert.ok(Array.isArray(o.props.get('guest.net')));
  });

  it('takes time linear in the size (no quadratic work)', (t) => {
    const small = largeRetrieveResponse(500);
    const large = largeRetrieveResponse(4000);
    // 8x the data: linear work is about 8x the time, quadratic would be 64x. A loaded machine can
    // stall one measure; quadratic work is slow in every one, so up to three pairs are measured.
    const seen: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const smallMs = bestOf(3, () => decodeResponse(small, 'RetrievePropertiesEx'));
      const largeMs = bestOf(3, () => decodeResponse(large, 'RetrievePropertiesEx'));
      seen.push(`500 VMs ${smallMs.toFixed(1)} ms, 4000 VMs ${largeMs.toFixed(1)} ms`);
      t.diagnostic(seen.at(-1)!);
      if (largeMs < smallMs * 24) return;
    }
    assert.fail(`not linear in any of three measures: ${seen.join('; ')}`);
  });
});

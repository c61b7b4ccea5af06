import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { VSphereError } from '../../src/errors.ts';
import {
  decodeResponse,
  ManagedObjectReference,
  moref,
  VimFault,
  vimFaultFromLocalized,
} from '../../src/vim25/index.ts';

const fixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

const soapFault = (inner: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>${inner}</soapenv:Fault></soapenv:Body></soapenv:Envelope>`;

function thrown(fn: () => unknown): VimFault {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof VimFault, `expected a VimFault, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a VimFault');
}

/** info.error of the single task in a RetrievePropertiesEx fixture. */
function taskError(name: string): unknown {
  const result = decodeResponse(fixture(name), 'RetrievePropertiesEx') as {
    objects: Array<{ propSet: Array<{ val: { error?: unknown } }> }>;
  };
  return result.objects[0]?.propSet[0]?.val.error;
}

describe('vimFaultFromLocalized: a failed task', () => {
  it('InvalidPowerState from vcsim is an InvalidState, with a useful message', () => {
    const fault = vimFaultFromLocalized(taskError('task-info-error.xml'));
    assert.ok(fault instanceof VSphereError);
    assert.equal(fault.code, 'VIM_FAULT');
    assert.equal(fault.faultType, 'InvalidPowerState');
    assert.deepEqual(fault.detail, {
      _type: 'InvalidPowerState',
      requestedState: 'poweredOn',
      existingState: 'poweredOn',
    });
    assert.equal(fault.faultString, '*types.InvalidPowerState');
    // vcsim's localizedMessage is a Go type name; the message is built from the fault instead.
    assert.equal(
      fault.message,
      'InvalidPowerState: The attempted operation cannot be performed in the current state (poweredOn).',
    );
    assert.ok(fault.is('InvalidPowerState'));
    assert.ok(fault.is('InvalidState'));
    assert.ok(fault.is('VimFault'));
    assert.ok(fault.is('MethodFault'));
    assert.ok(!fault.is('RuntimeFault'));
    assert.ok(!fault.is('DuplicateName'));
  });

  it('an empty NotSupported fault keeps its type', () => {
    const fault = vimFaultFromLocalized(taskError('task-info-not-supported.xml'));
    assert.equal(fault.faultType, 'NotSupported');
    assert.deepEqual(fault.detail, { _type: 'NotSupported' });
    assert.ok(fault.is('RuntimeFault'));
    assert.equal(fault.message, 'NotSupported: The operation is not supported on the object.');
  });

  it('uses the localized message when the server gives a real one', () => {
    const fault = vimFaultFromLocalized({
      _type: 'LocalizedMethodFault',
      fault: { _type: 'FileNotFound', file: '[ds] x.iso' },
      localizedMessage: 'File [ds] x.iso was not found',
    });
    assert.equal(fault.message, 'FileNotFound: File [ds] x.iso was not found');
    assert.ok(fault.is('FileFault'));
  });

  it('chains faultCause as the error cause', () => {
    const fault = vimFaultFromLocalized({
      fault: {
        _type: 'SystemError',
        reason: 'copy failed',
        faultCause: { fault: { _type: 'NoDiskSpace', datastore: 'ds1' }, localizedMessage: 'No space left' },
      },
      localizedMessage: '',
    });
    assert.equal(fault.message, 'SystemError: reason=copy failed');
    assert.ok(fault.cause instanceof VimFault);
    assert.equal(fault.cause.faultType, 'NoDiskSpace');
    assert.ok(fault.cause.is('FileFault'));
  });

  it('anything that is not a LocalizedMethodFault becomes a SystemError, not a TypeError', () => {
    for (const bad of [undefined, null, 'boom', 42, {}, { fault: 'x' }, { fault: {} }]) {
      const fault = vimFaultFromLocalized(bad);
      assert.equal(fault.faultType, 'SystemError');
      assert.ok(fault.is('RuntimeFault'));
    }
  });
});

describe('VimFault messages', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    [
      'DuplicateName',
      { name: 'x', object: moref('Folder', 'group-1') },
      "DuplicateName: The name 'x' already exists.",
    ],
    [
      'NotAuthenticated',
      { privilegeId: 'System.View' },
      'NotAuthenticated: The session is not authenticated.',
    ],
    ['InvalidLogin', {}, 'InvalidLogin: Cannot complete login due to an incorrect user name or password.'],
    [
      'ManagedObjectNotFound',
      { obj: moref('VirtualMachine', 'vm-9') },
      "ManagedObjectNotFound: The object 'VirtualMachine:vm-9' has already been deleted or has not been completely created.",
    ],
    [
      'InvalidArgument',
      { invalidProperty: 'spec.location.pool' },
      'InvalidArgument: A specified parameter was not correct: spec.location.pool',
    ],
    [
      'NoPermission',
      { object: moref('Folder', 'group-1'), privilegeId: 'Folder.Create' },
      'NoPermission: Permission to perform this operation was denied (privilege Folder.Create on Folder:group-1).',
    ],
    [
      'InvalidDatastorePath',
      { datastore: 'ds', name: 'x', datastorePath: '[ds] x' },
      'InvalidDatastorePath: datastore=ds, name=x, datastorePath=[ds] x',
    ],
    ['VmConfigFault', { faultMessage: [{ key: 'k', message: 'Bad config.' }] }, 'VmConfigFault: Bad config.'],
    ['InvalidRequest', {}, 'InvalidRequest: the server gave no message'],
  ];
  for (const [type, fields, message] of cases) {
    it(type, () => {
      const fault = vimFaultFromLocalized({ fault: { _type: type, ...fields } });
      assert.equal(fault.message, message);
    });
  }
});

describe('SOAP faults', () => {
  it('a fault with a faultstring keeps it as the message', () => {
    const fault = thrown(() =>
      decodeResponse(
        soapFault(
          '<faultcode>ServerFaultCode</faultcode><faultstring>Cannot complete login due to an incorrect user name or password.</faultstring><detail><InvalidLoginFault xmlns="urn:vim25" xsi:type="InvalidLogin"></InvalidLoginFault></detail>',
        ),
        'Login',
      ),
    );
    assert.equal(fault.faultType, 'InvalidLogin');
    assert.equal(fault.faultString, 'Cannot complete login due to an incorrect user name or password.');
    assert.equal(
      fault.message,
      'InvalidLogin: Cannot complete login due to an incorrect user name or password.',
    );
    assert.ok(fault.is('VimFault'));
  });

  it('a detail element without xsi:type is typed by its name (XFault -> X)', () => {
    const fault = thrown(() =>
      decodeResponse(
        soapFault(
          '<faultcode>ServerFaultCode</faultcode><faultstring/><detail><ManagedObjectNotFoundFault xmlns="urn:vim25"><obj type="VirtualMachine">vm-1</obj></ManagedObjectNotFoundFault></detail>',
        ),
        'PowerOnVM_Task',
      ),
    );
    assert.equal(fault.faultType, 'ManagedObjectNotFound');
    assert.ok(fault.detail.obj instanceof ManagedObjectReference);
    assert.ok(fault.is('RuntimeFault'));
  });

  it('a fault without detail is a SystemError carrying the faultstring', () => {
    const fault = thrown(() =>
      decodeResponse(
        soapFault('<faultcode>soapenv:Server</faultcode><faultstring>internal error</faultstring>'),
        'CurrentTime',
      ),
    );
    assert.equal(fault.faultType, 'SystemError');
    assert.deepEqual(fault.detail, { _type: 'SystemError', reason: 'internal error' });
    assert.equal(fault.message, 'SystemError: internal error');
  });

  it('a fault without detail whose faultcode names a fault type takes that type', () => {
    const fault = thrown(() =>
      decodeResponse(
        soapFault('<faultcode>vim25:NotAuthenticated</faultcode><faultstring></faultstring>'),
        'CurrentTime',
      ),
    );
    assert.equal(fault.faultType, 'NotAuthenticated');
    assert.ok(fault.is('SecurityError'));
  });

  it('a SOAP 1.2 fault is read too', () => {
    const fault = thrown(() =>
      decodeResponse(
        soapFault(
          '<soapenv:Code><soapenv:Value>soapenv:Receiver</soapenv:Value></soapenv:Code><soapenv:Reason><soapenv:Text xml:lang="en">busy</soapenv:Text></soapenv:Reason><soapenv:Detail><RequestCanceledFault xmlns="urn:vim25" xsi:type="RequestCanceled"/></soapenv:Detail>',
        ),
        'CurrentTime',
      ),
    );
    assert.equal(fault.faultType, 'RequestCanceled');
    assert.equal(fault.faultString, 'busy');
  });

  it('carries only what the server sent: no request data, no raw XML', () => {
    const fault = thrown(() => decodeResponse(fixture('fault-duplicate-name.xml'), 'CreateFolder'));
    assert.deepEqual(Object.keys(fault).sort(), ['code', 'detail', 'faultString', 'faultType', 'name']);
    assert.equal(fault.cause, undefined);
    assert.equal(fault.name, 'VimFault');
  });
});

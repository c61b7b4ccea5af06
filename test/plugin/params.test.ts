import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JsonRpcError, RpcErrorCode } from '../../src/plugin/jsonrpc.ts';
import {
  decodeDescribe,
  decodeDestroy,
  decodeLabel,
  decodeProvision,
  decodeValidate,
  member,
} from '../../src/plugin/params.ts';

function invalidParams(pattern: RegExp): (error: unknown) => boolean {
  return (error) =>
    error instanceof JsonRpcError &&
    error.rpcCode === RpcErrorCode.invalidParams &&
    pattern.test(error.message);
}

describe('member', () => {
  it('prefers the exact name, then matches case-insensitively like Go', () => {
    assert.equal(member({ Type: 'a', type: 'b' }, 'Type'), 'a');
    assert.equal(member({ type: 'b' }, 'Type'), 'b');
    assert.equal(member({ TYPE: 'c' }, 'Type'), 'c');
    assert.equal(member({}, 'Type'), undefined);
  });
});

describe('decodeValidate', () => {
  it('passes Properties through untouched and defaults Type to ""', () => {
    assert.deepEqual(decodeValidate({ Properties: { CPUs: '1' } }), { Type: '', Properties: { CPUs: '1' } });
    assert.deepEqual(decodeValidate({ Type: null }), { Type: '', Properties: undefined });
  });

  it('rejects a Type that is not a string', () => {
    assert.throws(
      () => decodeValidate({ Type: ['x'] }),
      invalidParams(/Type: expected a string, got an array/),
    );
  });
});

describe('decodeProvision', () => {
  it('drops Go nil maps and keeps null LogicalID and Attachments', () => {
    assert.deepEqual(
      decodeProvision({
        Type: '',
        Spec: { Properties: { a: 1 }, Tags: null, Init: null, LogicalID: null, Attachments: null },
      }),
      { Type: '', Spec: { Properties: { a: 1 }, LogicalID: null, Attachments: null } },
    );
  });

  it('reads attachments, defaulting a missing Type to ""', () => {
    const { Spec } = decodeProvision({ Spec: { Attachments: [{ ID: 'a', Type: 'disk' }, { id: 'b' }] } });
    assert.deepEqual(Spec.Attachments, [
      { ID: 'a', Type: 'disk' },
      { ID: 'b', Type: '' },
    ]);
  });

  it('lists every wrong field in one error', () => {
    assert.throws(
      () =>
        decodeProvision({
          Spec: { Tags: { a: 'x', b: 2, c: null }, LogicalID: 5, Attachments: [3, { ID: 1, Type: 2 }] },
        }),
      invalidParams(
        /^invalid params: Spec\.Tags\.b: expected a string, got a number; Spec\.Tags\.c: expected a string, got null; Spec\.LogicalID: expected a string or null, got a number; Spec\.Attachments\[0\]: expected an object \{"ID","Type"\}, got a number; Spec\.Attachments\[1\]\.ID: expected a string, got a number; Spec\.Attachments\[1\]\.Type: expected a string, got a number$/,
      ),
    );
  });

  it('requires Spec to be an object', () => {
    assert.throws(
      () => decodeProvision({ Type: '' }),
      invalidParams(/Spec: expected an object, got nothing/),
    );
    assert.throws(
      () => decodeProvision({ Spec: 'x' }),
      invalidParams(/Spec: expected an object, got a string/),
    );
  });

  it('keeps a "__proto__" tag as a tag', () => {
    const params = JSON.parse('{"Spec":{"Tags":{"__proto__":"x","a":"b"}}}');
    const { Spec } = decodeProvision(params);
    assert.ok(Spec.Tags && Object.hasOwn(Spec.Tags, '__proto__'));
    assert.equal(Object.getPrototypeOf(Spec.Tags), Object.prototype);
  });
});

describe('decodeLabel', () => {
  it('reads Instance and Labels (null labels are {})', () => {
    assert.deepEqual(decodeLabel({ Type: 'c', Instance: 'vm-1', Labels: null }), {
      Type: 'c',
      Instance: 'vm-1',
      Labels: {},
    });
  });

  it('requires a non-empty instance ID and string labels', () => {
    assert.throws(
      () => decodeLabel({ Instance: '', Labels: { a: true } }),
      invalidParams(
        /Instance: expected a non-empty string \(the instance ID\), got a string; Labels\.a: expected a string, got a boolean/,
      ),
    );
  });
});

describe('decodeDestroy', () => {
  const reasons: [unknown, string][] = [
    [undefined, 'terminate'],
    [null, 'terminate'],
    [{}, 'terminate'],
    [{ Reason: '' }, 'terminate'],
    [{ Reason: 'terminate' }, 'terminate'],
    [{ Reason: 'rolling_update' }, 'rolling_update'],
  ];
  for (const [context, reason] of reasons) {
    it(`reads Context ${JSON.stringify(context)} as ${reason}`, () => {
      const params = context === undefined ? { Instance: 'vm-1' } : { Instance: 'vm-1', Context: context };
      assert.deepEqual(decodeDestroy(params as { Instance: string }).Context, { Reason: reason });
    });
  }

  it('rejects an unknown reason and a Context that is not an object', () => {
    assert.throws(
      () => decodeDestroy({ Instance: 'vm-1', Context: { Reason: 'scale_down' } }),
      invalidParams(/Context\.Reason: expected "terminate" or "rolling_update", got a string/),
    );
    assert.throws(
      () => decodeDestroy({ Instance: 'vm-1', Context: 'terminate' }),
      invalidParams(/Context: expected an object \{"Reason"\}, got a string/),
    );
  });
});

describe('decodeDescribe', () => {
  it('defaults Tags to {} and Properties to false', () => {
    assert.deepEqual(decodeDescribe({}), { Type: '', Tags: {}, Properties: false });
    assert.deepEqual(decodeDescribe({ Tags: { g: 'w' }, Properties: true }), {
      Type: '',
      Tags: { g: 'w' },
      Properties: true,
    });
  });

  it('rejects non-boolean Properties and non-object Tags', () => {
    assert.throws(
      () => decodeDescribe({ Tags: 'g=w', Properties: 'yes' }),
      invalidParams(
        /Tags: expected an object of strings, got a string; Properties: expected a boolean, got a string/,
      ),
    );
  });
});

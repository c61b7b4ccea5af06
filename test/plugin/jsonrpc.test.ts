import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VSphereError } from '../../src/errors.ts';
import {
  formatError,
  formatResult,
  JsonRpcError,
  NULL_ID,
  parseRequest,
  RpcErrorCode,
} from '../../src/plugin/jsonrpc.ts';

describe('parseRequest', () => {
  const accepted: [string, string, { method: string; params: unknown; id: string | undefined }][] = [
    [
      'params as an object',
      '{"jsonrpc":"2.0","method":"Instance.Validate","params":{"Type":"x"},"id":1}',
      { method: 'Instance.Validate', params: { Type: 'x' }, id: '1' },
    ],
    [
      'params as [object]',
      '{"jsonrpc":"2.0","method":"M","params":[{"Type":"x"}],"id":"a"}',
      { method: 'M', params: { Type: 'x' }, id: '"a"' },
    ],
    ['params absent', '{"jsonrpc":"2.0","method":"M","id":null}', { method: 'M', params: {}, id: 'null' }],
    [
      'params null',
      '{"jsonrpc":"2.0","method":"M","params":null,"id":2}',
      { method: 'M', params: {}, id: '2' },
    ],
    ['params []', '{"jsonrpc":"2.0","method":"M","params":[],"id":3}', { method: 'M', params: {}, id: '3' }],
    [
      'notification',
      '{"jsonrpc":"2.0","method":"M","params":{}}',
      { method: 'M', params: {}, id: undefined },
    ],
    [
      'id beyond 2^53 kept as sent',
      '{"jsonrpc":"2.0","method":"M","id":5577006791947779410}',
      { method: 'M', params: {}, id: '5577006791947779410' },
    ],
    [
      'id source with whitespace around it',
      '{ "jsonrpc" : "2.0" , "method" : "M" , "id" :  12.50 }',
      { method: 'M', params: {}, id: '12.50' },
    ],
    [
      'a nested "id" does not shadow the request id',
      '{"jsonrpc":"2.0","method":"M","params":{"id":99},"id":7}',
      { method: 'M', params: { id: 99 }, id: '7' },
    ],
  ];
  for (const [name, body, expected] of accepted) {
    it(`accepts ${name}`, () => {
      const parsed = parseRequest(body);
      assert.ok(parsed.ok, `rejected: ${parsed.ok ? '' : parsed.error.message}`);
      assert.equal(parsed.request.method, expected.method);
      assert.deepEqual(parsed.request.params, expected.params);
      assert.equal(parsed.request.id?.source, expected.id);
    });
  }

  const rejected: [string, string, number, string, boolean][] = [
    ['empty body', '', RpcErrorCode.parseError, 'null', false],
    ['truncated JSON', '{"jsonrpc":"2.0",', RpcErrorCode.parseError, 'null', false],
    ['a batch', '[{"jsonrpc":"2.0","method":"M","id":1}]', RpcErrorCode.invalidRequest, 'null', false],
    ['a bare string', '"hello"', RpcErrorCode.invalidRequest, 'null', false],
    ['jsonrpc missing', '{"method":"M","id":4}', RpcErrorCode.invalidRequest, '4', false],
    ['jsonrpc "1.0"', '{"jsonrpc":"1.0","method":"M","id":4}', RpcErrorCode.invalidRequest, '4', false],
    ['method missing', '{"jsonrpc":"2.0","id":"q"}', RpcErrorCode.invalidRequest, '"q"', false],
    ['method not a string', '{"jsonrpc":"2.0","method":5,"id":1}', RpcErrorCode.invalidRequest, '1', false],
    ['id an object', '{"jsonrpc":"2.0","method":"M","id":{}}', RpcErrorCode.invalidRequest, 'null', false],
    ['id a boolean', '{"jsonrpc":"2.0","method":"M","id":true}', RpcErrorCode.invalidRequest, 'null', false],
    [
      'params a string',
      '{"jsonrpc":"2.0","method":"M","params":"x","id":1}',
      RpcErrorCode.invalidParams,
      '1',
      false,
    ],
    [
      'params [1,2]',
      '{"jsonrpc":"2.0","method":"M","params":[{},{}],"id":1}',
      RpcErrorCode.invalidParams,
      '1',
      false,
    ],
    ['params [3]', '{"jsonrpc":"2.0","method":"M","params":[3]}', RpcErrorCode.invalidParams, 'null', true],
    ['invalid request without id', '{"method":"M"}', RpcErrorCode.invalidRequest, 'null', false],
  ];
  for (const [name, body, code, id, notification] of rejected) {
    it(`rejects ${name} with ${code}`, () => {
      const parsed = parseRequest(body);
      assert.ok(!parsed.ok);
      assert.equal(parsed.error.rpcCode, code);
      assert.equal(parsed.id.source, id);
      assert.equal(parsed.notification, notification);
      assert.ok(parsed.error instanceof VSphereError);
    });
  }

  it('keeps the engine error as the cause and out of the message (it quotes the body)', () => {
    const parsed = parseRequest('{"Password":"hunter2" oops}');
    assert.ok(!parsed.ok);
    assert.equal(parsed.error.message, 'parse error: request body is not valid JSON');
    assert.ok(parsed.error.cause instanceof SyntaxError);
  });

  it('keeps a "__proto__" member as data', () => {
    const parsed = parseRequest('{"jsonrpc":"2.0","method":"M","params":{"__proto__":{"x":1}},"id":1}');
    assert.ok(parsed.ok);
    assert.ok(Object.hasOwn(parsed.request.params, '__proto__'));
    assert.equal(Object.getPrototypeOf(parsed.request.params), Object.prototype);
  });
});

describe('formatResult / formatError', () => {
  it('builds the reply around the id text exactly as received', () => {
    const parsed = parseRequest('{"jsonrpc":"2.0","method":"M","id":8674665223082153551}');
    assert.ok(parsed.ok && parsed.request.id !== undefined);
    assert.equal(
      formatResult(parsed.request.id, { Type: '', OK: true }),
      '{"jsonrpc":"2.0","result":{"Type":"","OK":true},"id":8674665223082153551}',
    );
  });

  it('builds errors with data null, as the Go client expects', () => {
    assert.equal(
      formatError(NULL_ID, RpcErrorCode.serverError, 'no-plugin:x "quoted"'),
      '{"jsonrpc":"2.0","error":{"code":-32000,"message":"no-plugin:x \\"quoted\\"","data":null},"id":null}',
    );
  });

  it('gives each JSON-RPC error a stable library code', () => {
    assert.equal(new JsonRpcError(RpcErrorCode.parseError, 'x').code, 'JSONRPC_PARSE_ERROR');
    assert.equal(new JsonRpcError(RpcErrorCode.invalidRequest, 'x').code, 'JSONRPC_INVALID_REQUEST');
    assert.equal(new JsonRpcError(RpcErrorCode.methodNotFound, 'x').code, 'JSONRPC_METHOD_NOT_FOUND');
    assert.equal(new JsonRpcError(RpcErrorCode.invalidParams, 'x').code, 'JSONRPC_INVALID_PARAMS');
  });
});

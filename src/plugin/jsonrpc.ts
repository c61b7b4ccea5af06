/**
 * JSON-RPC 2.0 as InfraKit's Go side speaks it (gorilla/rpc v2 `json2`): request parsing and
 * response building. Pure: no I/O, so every edge case is a table-driven unit test.
 *
 * - `params` is an object, or an array holding one object (`[{...}]`); absent or `null` means `{}`.
 * - `id` is echoed verbatim: the exact JSON text the client sent. Go clients send random int63 ids
 *   such as `5577006791947779410`, which a JavaScript number cannot hold, so re-serialising the
 *   parsed value would change them.
 * - A request without `id` is a notification: the caller sends no body at all.
 * - Errors are `{"code":...,"message":...,"data":null}`; `data` is always `null` because InfraKit's
 *   Go client only shows `message`.
 */

import { VSphereError, type VSphereErrorCode } from '../errors.ts';
import type { JsonValue } from '../spi/instance.ts';

/** The JSON-RPC error codes this server answers with. */
export const RpcErrorCode = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  /** Application error: InfraKit's Go server (gorilla json2 `E_SERVER`) uses it for every failure. */
  serverError: -32000,
} as const;

export type RpcErrorCode = (typeof RpcErrorCode)[keyof typeof RpcErrorCode];

const errorNames: Record<RpcErrorCode, VSphereErrorCode> = {
  [RpcErrorCode.parseError]: 'JSONRPC_PARSE_ERROR',
  [RpcErrorCode.invalidRequest]: 'JSONRPC_INVALID_REQUEST',
  [RpcErrorCode.methodNotFound]: 'JSONRPC_METHOD_NOT_FOUND',
  [RpcErrorCode.invalidParams]: 'JSONRPC_INVALID_PARAMS',
  [RpcErrorCode.serverError]: 'JSONRPC_SERVER_ERROR',
};

/** A failure that maps to a specific JSON-RPC error code (`rpcCode`); `code` is the library code. */
export class JsonRpcError extends VSphereError {
  readonly rpcCode: RpcErrorCode;

  constructor(rpcCode: RpcErrorCode, message: string, options?: { cause?: unknown }) {
    super(errorNames[rpcCode], message, options);
    this.rpcCode = rpcCode;
  }
}

/** A request id: its value, and the exact JSON text it was sent as (what the reply echoes). */
export interface RpcId {
  readonly value: string | number | null;
  readonly source: string;
}

/** The id used when the request's own id cannot be determined (parse error, invalid request). */
export const NULL_ID: RpcId = Object.freeze({ value: null, source: 'null' });

/** A well-formed JSON-RPC request. */
export interface RpcRequest {
  readonly method: string;
  /** Always an object: `[obj]` is unwrapped, absent/`null` becomes `{}`. */
  readonly params: { [key: string]: JsonValue };
  /** `undefined` for a notification (no `id` member): it gets no reply body. */
  readonly id: RpcId | undefined;
}

/** What {@link parseRequest} made of a body. */
export type ParsedRequest =
  | { readonly ok: true; readonly request: RpcRequest }
  | {
      readonly ok: false;
      readonly error: JsonRpcError;
      /** The id to answer with: the request's own when it could be read, else {@link NULL_ID}. */
      readonly id: RpcId;
      /**
       * `true` when the request was otherwise a well-formed notification (no `id`): no reply body.
       * Parse errors and invalid requests are always answered, with id `null` when unknown.
       */
      readonly notification: boolean;
    };

function isPlainObject(value: unknown): value is { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses `JSON.parse`-style, remembering the source text of every `id` member (per holder object),
 * so the top-level one can be echoed byte for byte. Uses the reviver `context.source` of Node >= 21.
 */
function parseWithIdSources(text: string): { value: unknown; idSources: WeakMap<object, string> } {
  const idSources = new WeakMap<object, string>();
  const value: unknown = JSON.parse(
    text,
    function reviver(this: unknown, key: string, val: unknown, context?: { source?: string }) {
      if (key === 'id' && typeof this === 'object' && this !== null && context?.source !== undefined) {
        idSources.set(this, context.source);
      }
      return val;
    },
  );
  return { value, idSources };
}

function readId(
  message: { [key: string]: JsonValue },
  idSources: WeakMap<object, string>,
): RpcId | 'invalid' {
  const value = message.id;
  if (typeof value === 'string' || typeof value === 'number' || value === null) {
    return { value, source: idSources.get(message) ?? JSON.stringify(value) };
  }
  return 'invalid';
}

/** Parses one HTTP body into a JSON-RPC request, or the error to answer with. */
export function parseRequest(body: string): ParsedRequest {
  let parsed: { value: unknown; idSources: WeakMap<object, string> };
  try {
    parsed = parseWithIdSources(body);
  } catch (cause) {
    // The engine's own wording (and its offsets) varies between Node versions; keep it out of the
    // wire message, which clients and golden files compare, and keep it as the cause.
    return {
      ok: false,
      error: new JsonRpcError(RpcErrorCode.parseError, 'parse error: request body is not valid JSON', {
        cause,
      }),
      id: NULL_ID,
      notification: false,
    };
  }
  const message = parsed.value;
  if (Array.isArray(message)) {
    return {
      ok: false,
      error: new JsonRpcError(
        RpcErrorCode.invalidRequest,
        'invalid request: batch requests are not supported',
      ),
      id: NULL_ID,
      notification: false,
    };
  }
  if (!isPlainObject(message)) {
    return {
      ok: false,
      error: new JsonRpcError(RpcErrorCode.invalidRequest, 'invalid request: expected a JSON object'),
      id: NULL_ID,
      notification: false,
    };
  }

  let id: RpcId | undefined;
  if (Object.hasOwn(message, 'id')) {
    const read = readId(message, parsed.idSources);
    if (read === 'invalid') {
      return {
        ok: false,
        error: new JsonRpcError(
          RpcErrorCode.invalidRequest,
          'invalid request: id must be a string, number or null',
        ),
        id: NULL_ID,
        notification: false,
      };
    }
    id = read;
  }
  const answerId = id ?? NULL_ID;

  if (message.jsonrpc !== '2.0') {
    return {
      ok: false,
      error: new JsonRpcError(RpcErrorCode.invalidRequest, 'invalid request: jsonrpc must be "2.0"'),
      id: answerId,
      notification: false,
    };
  }
  const method = message.method;
  if (typeof method !== 'string' || method === '') {
    return {
      ok: false,
      error: new JsonRpcError(
        RpcErrorCode.invalidRequest,
        'invalid request: method must be a non-empty string',
      ),
      id: answerId,
      notification: false,
    };
  }

  const raw = message.params;
  let params: { [key: string]: JsonValue };
  if (raw === undefined || raw === null) {
    params = {};
  } else if (isPlainObject(raw)) {
    params = raw;
  } else if (Array.isArray(raw) && raw.length === 0) {
    params = {};
  } else if (Array.isArray(raw) && raw.length === 1 && isPlainObject(raw[0])) {
    params = raw[0];
  } else {
    // A method cannot be answered with params it cannot read, but the request itself is well formed.
    return {
      ok: false,
      error: new JsonRpcError(
        RpcErrorCode.invalidParams,
        'invalid params: params must be an object or an array holding one object',
      ),
      id: answerId,
      notification: id === undefined,
    };
  }
  return { ok: true, request: { method, params, id } };
}

/** The reply body for a successful call. `result` must be JSON-serialisable and not `undefined`. */
export function formatResult(id: RpcId, result: unknown): string {
  return `{"jsonrpc":"2.0","result":${JSON.stringify(result)},"id":${id.source}}`;
}

/** The reply body for a failed call: `{"code","message","data":null}`, as InfraKit's Go client expects. */
export function formatError(id: RpcId, code: number, message: string): string {
  return `{"jsonrpc":"2.0","error":${JSON.stringify({ code, message, data: null })},"id":${id.source}}`;
}

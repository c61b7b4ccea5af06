/**
 * A minimal InfraKit-style JSON-RPC client for tests: HTTP/1.1 POST / over a unix socket, exactly
 * the wire format of InfraKit's Go client (gorilla/rpc json2), plus raw access for malformed input.
 */

import { type IncomingMessage, request } from 'node:http';

/** One HTTP exchange, body as text. */
export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Where to connect: a unix socket path. */
export type Target = { socketPath: string };

/** Sends `body` as-is in a POST to `/` and reads the whole reply. */
export function postRaw(
  target: Target,
  body: string | Buffer,
  options: { headers?: Record<string, string | number>; path?: string; method?: string } = {},
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: target.socketPath,
        method: options.method ?? 'POST',
        path: options.path ?? '/',
        agent: false,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
          ...options.headers,
        },
      },
      (res) => readReply(res, resolve, reject),
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Reads a whole reply, for both POST and GET. */
function readReply(
  res: IncomingMessage,
  resolve: (reply: RawReply) => void,
  reject: (error: Error) => void,
): void {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () =>
    resolve({
      status: res.statusCode ?? 0,
      headers: res.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    }),
  );
  res.on('error', reject);
}

/** GETs `path` and reads the whole reply. */
export function get(target: Target, path: string): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: target.socketPath, method: 'GET', path, agent: false }, (res) =>
      readReply(res, resolve, reject),
    );
    req.on('error', reject);
    req.end();
  });
}

let nextId = 1;

/** Calls `method` the way the Go client does (`params` an object, a numeric id); returns the parsed reply. */
export async function call(
  target: Target,
  method: string,
  params: unknown,
  id: string | number | null = nextId++,
): Promise<{ status: number; reply: JsonRpcReply }> {
  const raw = await postRaw(target, JSON.stringify({ jsonrpc: '2.0', method, params, id }));
  return { status: raw.status, reply: JSON.parse(raw.body) as JsonRpcReply };
}

/** A parsed JSON-RPC reply. */
export interface JsonRpcReply {
  jsonrpc: string;
  result?: unknown;
  error?: { code: number; message: string; data: unknown };
  id: string | number | null;
}

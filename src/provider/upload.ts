/**
 * Uploads an ISO (or any file) to a datastore through vCenter's /folder endpoint: a streamed
 * PUT with the session cookie and a Content-Length, the job of `linuxkit push vcenter`.
 */
import { ValidationError, VSphereError } from '../errors.ts';
import type { Inventory } from '../inventory/inventory.ts';
import type { Session } from '../session/session.ts';
import { statusError } from '../transport/http.ts';

// Builtins through getBuiltinModule: ES imports of them cost every user's start-up (P6).
const { createReadStream } = process.getBuiltinModule('node:fs');
const { stat } = process.getBuiltinModule('node:fs/promises');
const { Readable } = process.getBuiltinModule('node:stream');

/** The target file exists and `overwrite` was not set. */
export class FileExistsError extends VSphereError {
  constructor(datastorePath: string) {
    super('FILE_EXISTS', `${datastorePath} already exists (pass overwrite: true to replace it)`);
  }
}

/** A stream and its exact size (vCenter needs Content-Length). */
export interface SizedStream {
  stream: NodeJS.ReadableStream;
  size: number;
}

export interface UploadOptions {
  /** Datastore name. */
  datastore: string;
  /** Path inside the datastore, e.g. `iso/linuxkit.iso`. */
  path: string;
  /** Datacenter name or path (default: the provider's, or the only one). */
  datacenter?: string;
  /** Replace an existing file (default false). */
  overwrite?: boolean;
  /** Bytes sent so far and the total. */
  onProgress?: (sent: number, total: number) => void;
  signal?: AbortSignal;
}

function checkPath(path: string): string {
  const clean = path.replace(/^\/+/, '');
  const issues = [];
  if (clean === '')
    issues.push({
      field: 'path',
      message: 'expected a file path inside the datastore, e.g. iso/linuxkit.iso',
    });
  if (clean.split('/').some((s) => s === '..' || s === '.'))
    issues.push({ field: 'path', message: 'must not contain . or .. segments' });
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f]/.test(clean))
    issues.push({ field: 'path', message: 'must not contain control characters' });
  if (issues.length > 0) throw new ValidationError(issues, 'invalid upload');
  return clean;
}

export async function uploadToDatastore(
  session: Session,
  inventory: Inventory,
  source: string | Buffer | SizedStream,
  options: UploadOptions,
): Promise<{ datastorePath: string; bytes: number }> {
  const path = checkPath(options.path);
  const dc = await inventory.datacenter(options.datacenter);
  const ds = await inventory.datastore(dc, options.datastore, 'datastore');
  const datastorePath = `[${ds.name}] ${path}`;
  const query = `dcPath=${encodeURIComponent(dc.path.replace(/^\//, ''))}&dsName=${encodeURIComponent(ds.name)}`;
  const urlPath = `/folder/${path.split('/').map(encodeURIComponent).join('/')}?${query}`;
  const signalPart = options.signal ? { signal: options.signal } : {};
  if (!options.overwrite) {
    const head = await session.http(() => ({ method: 'HEAD', path: urlPath, ...signalPart }));
    if (head.status === 200) throw new FileExistsError(datastorePath);
  }
  let size: number;
  let open: () => NodeJS.ReadableStream | Buffer;
  if (typeof source === 'string') {
    size = (await stat(source)).size;
    open = () => createReadStream(source);
  } else if (Buffer.isBuffer(source)) {
    size = source.length;
    open = () => source;
  } else {
    size = source.size;
    let used = false;
    // A caller's stream can be read once: the retry after a re-login is not possible with it.
    open = () => {
      if (used)
        throw new VSphereError(
          'UPLOAD_RETRY',
          'the session expired during the upload and a caller stream cannot be replayed; retry with a file path',
        );
      used = true;
      return source.stream;
    };
  }
  const response = await session.http(() => {
    const body = open();
    return {
      method: 'PUT',
      path: urlPath,
      headers: { 'content-type': 'application/octet-stream', 'content-length': size },
      body: Buffer.isBuffer(body)
        ? body
        : body instanceof Readable
          ? body
          : Readable.from(body as AsyncIterable<Buffer>),
      timeoutMs: 3_600_000,
      ...(options.onProgress ? { onUploadProgress: (sent: number) => options.onProgress!(sent, size) } : {}),
      ...signalPart,
    };
  });
  if (response.status !== 200 && response.status !== 201)
    throw statusError(response, `upload of ${datastorePath}`);
  options.onProgress?.(size, size);
  return { datastorePath, bytes: size };
}

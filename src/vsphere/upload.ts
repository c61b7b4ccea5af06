/**
 * Uploads an ISO (or any file) to a datastore through vCenter's /folder endpoint: a streamed
 * PUT with the session cookie and a Content-Length, the job of `linuxkit push vcenter`.
 */
import { ValidationError, VSphereError } from '../errors.ts';
import { logger } from '../log.ts';
import type { Session } from '../session/session.ts';
import type { TaskWaiter } from '../tasks/waiter.ts';
import { type HttpRequest, type HttpResponse, statusError } from '../transport/http.ts';
import type { ManagedObjectReference } from '../vim25/index.ts';
import type { DatacenterInfo, Inventory } from './finder.ts';
import { isFault } from './vm-ops.ts';

const log = logger('infrakit:vsphere:upload');

// Builtins through getBuiltinModule: ES imports of them cost every user's start-up (P6).
const { createReadStream } = process.getBuiltinModule('node:fs');
const { stat } = process.getBuiltinModule('node:fs/promises');
const { Readable, Transform } = process.getBuiltinModule('node:stream');

/** The target file exists and `overwrite` was not set. */
export class FileExistsError extends VSphereError {
  constructor(datastorePath: string) {
    super('FILE_EXISTS', `${datastorePath} already exists (pass overwrite: true to replace it)`);
  }
}

/**
 * A caller's stream ended before, or went past, the size it was declared with. The request was
 * ended at once: no byte past the declared size was sent.
 */
export class UploadSizeMismatchError extends VSphereError {
  /** The size given with the stream (sent as Content-Length). */
  readonly declared: number;
  /** Bytes the stream gave: all of them when it ended short, or at least this many when it ran over. */
  readonly actual: number;
  constructor(datastorePath: string, declared: number, actual: number) {
    const what = actual < declared ? `ended after ${actual}` : `gave at least ${actual}`;
    super(
      'UPLOAD_SIZE_MISMATCH',
      `upload of ${datastorePath}: the stream was declared as ${declared} bytes but ${what}; the upload was stopped`,
    );
    this.declared = declared;
    this.actual = actual;
  }
}

/**
 * `source` passed through as long as it stays within `size` bytes, and ending exactly there: a
 * stream that ends short fails (the server would wait for the rest until the call's timeout),
 * and one that runs over fails before the first byte past `size` is passed on.
 */
function exactly(
  source: NodeJS.ReadableStream,
  size: number,
  fail: (actual: number) => Error,
  onEnd: () => void,
): InstanceType<typeof Transform> {
  let seen = 0;
  const checked = new Transform({
    transform(chunk: Buffer | string, _encoding, callback) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      seen += bytes.length;
      if (seen > size) callback(fail(seen));
      else callback(null, bytes);
    },
    flush(callback) {
      if (seen === size) onEnd();
      callback(seen === size ? null : fail(seen));
    },
  });
  const readable = source instanceof Readable ? source : Readable.from(source as AsyncIterable<Buffer>);
  readable.on('error', (error: Error) => checked.destroy(error));
  // No further reading once the size is known to be wrong (or the request ended).
  checked.on('close', () => {
    if (!readable.readableEnded) readable.unpipe(checked);
  });
  readable.pipe(checked);
  return checked;
}

/**
 * How long a caller's stream may take, after its declared size was sent and answered, to end (or
 * show it runs over). One that does neither is taken as ended: every declared byte is stored.
 */
const STREAM_END_GRACE_MS = 5_000;

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

/**
 * Deletes what a failed upload wrote (vCenter keeps the bytes it received): a file cut short
 * would pass for the ISO. Best effort: the upload's own error is what the caller gets.
 */
async function removePartial(
  session: Session,
  tasks: TaskWaiter,
  dc: DatacenterInfo,
  datastorePath: string,
): Promise<void> {
  // The server may still be handling the cut request (opening the file, writing what it had)
  // when the first removal runs, and so make the file again after it: remove twice more, after
  // pauses, whatever the first found.
  for (const pauseMs of [0, 300, 1000]) {
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    try {
      const content = await session.serviceContent();
      if (!content.fileManager) return;
      const task = await session.invoke<ManagedObjectReference>('DeleteDatastoreFile_Task', {
        _this: content.fileManager,
        name: datastorePath,
        datacenter: dc.ref,
      });
      await tasks.wait(task, {
        description: `removal of the partial upload ${datastorePath}`,
        timeoutMs: 60_000,
      });
      log('removed the partial upload %s', datastorePath);
    } catch (error) {
      if (isFault(error, 'FileNotFound')) continue;
      log('could not remove the partial upload %s: %s', datastorePath, (error as Error).message);
      return;
    }
  }
}

export async function uploadToDatastore(
  session: Session,
  inventory: Inventory,
  source: string | Buffer | SizedStream,
  options: UploadOptions,
  tasks?: TaskWaiter,
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
    if (!Number.isSafeInteger(source.size) || source.size < 0)
      throw new ValidationError(
        [{ field: 'size', message: "expected the stream's exact size in bytes, an integer >= 0" }],
        'invalid upload',
      );
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
  // Counted as it is sent: the first wrong count ends the request, and the caller gets this.
  let mismatch: UploadSizeMismatchError | undefined;
  // Settles when the stream ended at exactly `size`, or gave a byte more.
  let verdict: () => void = () => undefined;
  const judged = new Promise<void>((resolve) => {
    verdict = resolve;
  });
  const onMismatch = (actual: number) => {
    mismatch = new UploadSizeMismatchError(datastorePath, size, actual);
    verdict();
    return mismatch;
  };
  let sending: InstanceType<typeof Transform> | undefined;
  // Bytes reached the request: a failure from now on leaves what the server got as the file.
  let started = false;
  const send = (): HttpRequest => {
    const opened = open();
    const body = Buffer.isBuffer(opened) ? opened : exactly(opened, size, onMismatch, verdict);
    if (!Buffer.isBuffer(body)) sending = body;
    return {
      method: 'PUT',
      path: urlPath,
      headers: { 'content-type': 'application/octet-stream', 'content-length': size },
      body,
      timeoutMs: 3_600_000,
      onUploadProgress: (sent: number) => {
        started = true;
        options.onProgress?.(sent, size);
      },
      ...signalPart,
    };
  };
  let response: HttpResponse | undefined;
  try {
    response = await session.http(send);
    // vCenter answers once it has Content-Length bytes, before a stream that runs over has said
    // so: a caller's stream must also end there (or give its next byte) within a moment.
    if (!Buffer.isBuffer(source) && response.status < 300) {
      let timer: NodeJS.Timeout | undefined;
      const ended = await Promise.race([
        judged.then(() => true),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), STREAM_END_GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
      // A stream that neither ended nor gave more keeps its request, and so its socket, open:
      // end both (the socket is not back in the pool while the request is unfinished).
      if (!ended) {
        log('upload of %s: the stream did not end after its %d bytes; taken as ended', datastorePath, size);
        sending?.destroy();
      }
    }
  } catch (error) {
    if (!mismatch) {
      // Cut midway (abort, reset, timeout): vCenter keeps what it received under the name, which
      // would pass for the file and make an upload without overwrite fail. Not before a byte
      // was sent: with overwrite, the file there may still be the earlier, whole one.
      // Awaited, an aborted caller too: a removal left running would delete the file of an
      // upload retried meanwhile.
      if (tasks && started) await removePartial(session, tasks, dc, datastorePath);
      throw error;
    }
  }
  if (mismatch || !response) {
    if (tasks) await removePartial(session, tasks, dc, datastorePath);
    throw mismatch ?? new UploadSizeMismatchError(datastorePath, size, 0);
  }
  if (response.status !== 200 && response.status !== 201)
    throw statusError(response, `upload of ${datastorePath}`);
  options.onProgress?.(size, size);
  return { datastorePath, bytes: size };
}

/**
 * uploadIso with a caller's stream whose size is wrong: one that ends short fails at once (it
 * used to hang until the hour-long upload timeout), one that runs over fails before the excess is
 * sent; both with a typed error naming the declared and actual sizes. The exact size still works.
 * An upload aborted midway leaves no partial file.
 * Against vcsim's datastore /folder endpoint, reading back what is stored.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { VSphereClient } from '../../src/blocks.ts';
import { UploadSizeMismatchError, VSphereInstanceProvider } from '../../src/index.ts';
import { Vcsim } from '../vcsim/vcsim.ts';

let sim: Vcsim;
let admin: VSphereClient;
let provider: VSphereInstanceProvider;

const CHUNK = 64 * 1024;

/** A stream of `chunks` chunks of CHUNK bytes, each filled with its index, read as slowly as asked. */
function chunks(count: number, delayMs = 0): Readable {
  let i = 0;
  return new Readable({
    read() {
      if (i >= count) {
        this.push(null);
        return;
      }
      const chunk = Buffer.alloc(CHUNK, i);
      i += 1;
      if (delayMs > 0) setTimeout(() => this.push(chunk), delayMs);
      else this.push(chunk);
    },
  });
}

/** The file as vcsim stores it, or undefined when there is none. */
async function stored(path: string): Promise<Buffer | undefined> {
  const response = await admin.session.http(() => ({
    method: 'GET',
    path: `/folder/${path}?dcPath=DC0&dsName=LocalDS_0`,
  }));
  if (response.status === 404) return undefined;
  assert.equal(response.status, 200);
  return response.body;
}

before(async () => {
  sim = await Vcsim.start();
  admin = new VSphereClient({ url: sim.urlWithCredentials, tls: { insecure: true }, keepAliveMs: 0 });
  provider = new VSphereInstanceProvider({
    url: sim.sdkUrl,
    username: 'user',
    password: 'pass',
    tls: { thumbprint: sim.certificate!.sha256 },
    datacenter: 'DC0',
    keepAliveMs: 0,
  });
});
after(async () => {
  await provider?.close();
  await admin?.close();
  await sim?.stop();
});

describe('uploadIso with a stream of the wrong size', () => {
  it('the exact size is uploaded whole', async () => {
    const result = await provider.uploadIso(
      { stream: chunks(4), size: 4 * CHUNK },
      { datastore: 'LocalDS_0', path: 'iso/exact.iso' },
    );
    assert.deepEqual(result, { datastorePath: '[LocalDS_0] iso/exact.iso', bytes: 4 * CHUNK });
    const body = await stored('iso/exact.iso');
    assert.equal(body?.length, 4 * CHUNK);
    assert.equal(body![3 * CHUNK], 3);
  });

  it('a stream that ends short fails at once, naming both sizes, and leaves no file', async () => {
    const started = Date.now();
    await assert.rejects(
      provider.uploadIso(
        { stream: chunks(3, 20), size: 4 * CHUNK },
        { datastore: 'LocalDS_0', path: 'iso/short.iso' },
      ),
      (e: unknown) => {
        assert.ok(e instanceof UploadSizeMismatchError, String(e));
        assert.equal(e.code, 'UPLOAD_SIZE_MISMATCH');
        assert.equal(e.declared, 4 * CHUNK);
        assert.equal(e.actual, 3 * CHUNK);
        assert.match(e.message, /declared as 262144 bytes but ended after 196608/);
        return true;
      },
    );
    assert.ok(Date.now() - started < 10_000, `failed in ${Date.now() - started} ms`);
    assert.equal(await stored('iso/short.iso'), undefined, 'no partial file');
  });

  it('a stream that runs over fails before the excess is sent, and leaves no file', async () => {
    const source = chunks(6, 20);
    let read = 0;
    source.on('data', (chunk: Buffer) => {
      read += chunk.length;
    });
    await assert.rejects(
      provider.uploadIso(
        { stream: source, size: 4 * CHUNK },
        { datastore: 'LocalDS_0', path: 'iso/long.iso' },
      ),
      (e: unknown) => {
        assert.ok(e instanceof UploadSizeMismatchError, String(e));
        assert.equal(e.declared, 4 * CHUNK);
        assert.equal(e.actual, 5 * CHUNK);
        assert.match(e.message, /declared as 262144 bytes but gave at least 327680/);
        return true;
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(read <= 5 * CHUNK, `the stream was not read on (${read} bytes)`);
    assert.equal(await stored('iso/long.iso'), undefined, 'no partial file');
  });

  it('a wrong size over an existing file (overwrite) fails the same way', async () => {
    await assert.rejects(
      provider.uploadIso(
        { stream: chunks(2), size: 4 * CHUNK },
        { datastore: 'LocalDS_0', path: 'iso/exact.iso', overwrite: true },
      ),
      UploadSizeMismatchError,
    );
    const body = await stored('iso/exact.iso');
    assert.ok(body === undefined || body.length === 4 * CHUNK, `left ${body?.length} bytes`);
  });

  it('a stream that gives exactly its size but never ends is taken as ended within seconds', async () => {
    let i = 0;
    const open = new Readable({
      read() {
        if (i < 4) this.push(Buffer.alloc(CHUNK, i++));
        // and then never ends
      },
    });
    const started = Date.now();
    const result = await provider.uploadIso(
      { stream: open, size: 4 * CHUNK },
      { datastore: 'LocalDS_0', path: 'iso/open.iso' },
    );
    assert.equal(result.bytes, 4 * CHUNK);
    assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
    assert.equal((await stored('iso/open.iso'))?.length, 4 * CHUNK);
    // Its request was ended: the provider's next call does not wait for a socket.
    const again = await provider.uploadIso(Buffer.alloc(10, 1), {
      datastore: 'LocalDS_0',
      path: 'iso/after.iso',
    });
    assert.equal(again.bytes, 10);
  });

  it('an upload aborted midway leaves no partial file, and may be retried without overwrite', async () => {
    const controller = new AbortController();
    const stream = chunks(40, 25);
    let aborted = false;
    const uploading = provider.uploadIso(
      { stream, size: 40 * CHUNK },
      {
        datastore: 'LocalDS_0',
        path: 'iso/aborted.iso',
        signal: controller.signal,
        onProgress: (sent) => {
          if (!aborted && sent >= 8 * CHUNK) {
            aborted = true;
            controller.abort(new Error('operator said stop'));
          }
        },
      },
    );
    await assert.rejects(uploading, (error: unknown) => (error as { code?: string }).code === 'ABORTED');
    assert.ok(aborted, 'aborted after some bytes were sent');
    assert.equal((await stored('iso/aborted.iso'))?.length, undefined, 'no partial file is left');
    const again = await provider.uploadIso(
      { stream: chunks(2), size: 2 * CHUNK },
      { datastore: 'LocalDS_0', path: 'iso/aborted.iso' },
    );
    assert.equal(again.bytes, 2 * CHUNK);
    assert.equal((await stored('iso/aborted.iso'))?.length, 2 * CHUNK);
    // Nothing of the aborted upload's clean-up runs on to remove the new file.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal((await stored('iso/aborted.iso'))?.length, 2 * CHUNK);
  });

  it('a size that is not a byte count is refused before anything is sent', async () => {
    await assert.rejects(
      provider.uploadIso({ stream: chunks(1), size: -1 }, { datastore: 'LocalDS_0', path: 'iso/neg.iso' }),
      { code: 'VALIDATION' },
    );
  });
});

/**
 * Version negotiation of the SOAP client, on a stand-in transport that answers the document GET
 * as told (vcsim-backed cases are in test/integration/version-negotiation.test.ts): one read for
 * concurrent callers, a caller's abort, a document without a version, and errors that must not
 * leave a guessed version behind.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FALLBACK_API_VERSION, SoapClient } from '../../src/soap/client.ts';
import { AbortError, TlsError } from '../../src/transport/errors.ts';
import { type HttpRequest, type HttpResponse, HttpTransport } from '../../src/transport/http.ts';
import { SCHEMA_VIM25_VERSION } from '../../src/vim25/index.ts';

const DOCUMENT = (version: string) =>
  Buffer.from(
    `<namespaces version="1.0"><namespace><name>urn:vim25</name><version>${version}</version></namespace></namespaces>`,
  );

/** Answers each GET with the next of `answers` (the last one repeats), after `delayMs`. */
class ScriptedTransport extends HttpTransport {
  gets = 0;
  private readonly answers: (HttpResponse | Error)[];
  private readonly delayMs: number;
  constructor(answers: (HttpResponse | Error)[], delayMs = 0) {
    super({ url: 'http://127.0.0.1:9/sdk' });
    this.answers = answers;
    this.delayMs = delayMs;
  }
  override async request(req: HttpRequest): Promise<HttpResponse> {
    assert.equal(req.method, 'GET', 'only the document is asked for here');
    const answer = this.answers[Math.min(this.gets, this.answers.length - 1)]!;
    this.gets += 1;
    if (this.delayMs) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (answer instanceof Error) throw answer;
    return answer;
  }
}

const ok = (body: Buffer): HttpResponse => ({ status: 200, headers: {}, body });
const status = (code: number): HttpResponse => ({ status: code, headers: {}, body: Buffer.from('<html/>') });

describe('SoapClient.negotiateVersion', () => {
  it('falls back to the schema’s vim25 version id, not `8.0`', () => {
    assert.equal(FALLBACK_API_VERSION, SCHEMA_VIM25_VERSION);
    assert.match(FALLBACK_API_VERSION, /^\d+\.\d+\.\d+\.\d+$/);
  });

  it('concurrent callers share one read of the document', async () => {
    const transport = new ScriptedTransport([ok(DOCUMENT('8.0.3.0'))], 30);
    const client = new SoapClient({ transport });
    const versions = await Promise.all([1, 2, 3, 4].map(() => client.negotiateVersion()));
    assert.deepEqual(versions, ['8.0.3.0', '8.0.3.0', '8.0.3.0', '8.0.3.0']);
    assert.equal(transport.gets, 1);
    transport.close();
  });

  it('any 5xx is retried (not only 502/503/504)', async () => {
    const transport = new ScriptedTransport([status(500), status(507), ok(DOCUMENT('7.0.3.0'))]);
    const client = new SoapClient({ transport });
    assert.equal(await client.negotiateVersion(), '7.0.3.0');
    assert.equal(transport.gets, 3);
    transport.close();
  });

  it('a caller whose signal fires gets an AbortError; the shared read goes on for the others', async () => {
    const transport = new ScriptedTransport([ok(DOCUMENT('8.0.2.0'))], 100);
    const client = new SoapClient({ transport });
    const controller = new AbortController();
    const aborted = client.negotiateVersion(controller.signal);
    const other = client.negotiateVersion();
    controller.abort();
    await assert.rejects(aborted, AbortError);
    assert.equal(await other, '8.0.2.0');
    transport.close();
    const fresh = new ScriptedTransport([ok(DOCUMENT('8.0.2.0'))]);
    await assert.rejects(
      new SoapClient({ transport: fresh }).negotiateVersion(AbortSignal.abort()),
      AbortError,
    );
    fresh.close();
  });

  it('a 200 without a urn:vim25 version, or a 4xx, gives the fallback for good', async () => {
    for (const answer of [ok(Buffer.from('<namespaces/>')), status(404), status(403)]) {
      const transport = new ScriptedTransport([answer, ok(DOCUMENT('8.0.3.0'))]);
      const client = new SoapClient({ transport, versionRetryMs: 0 });
      assert.equal(await client.negotiateVersion(), FALLBACK_API_VERSION);
      assert.equal(await client.negotiateVersion(), FALLBACK_API_VERSION);
      assert.equal(transport.gets, 1, `HTTP ${answer.status}: read once`);
      transport.close();
    }
  });

  it('a TLS refusal is thrown, not papered over with a guessed version, and nothing is kept', async () => {
    const refusal = new TlsError('TLS_THUMBPRINT_MISMATCH', 'pin mismatch');
    const transport = new ScriptedTransport([refusal, ok(DOCUMENT('8.0.3.0'))]);
    const client = new SoapClient({ transport });
    await assert.rejects(client.negotiateVersion(), (error: unknown) => error === refusal);
    assert.equal(transport.gets, 1, 'not retried');
    assert.equal(await client.negotiateVersion(), '8.0.3.0', 'the next call reads the document');
    transport.close();
  });

  it('5xx outlasting the retries: the fallback until versionRetryMs has passed, then a fresh read', async () => {
    const transport = new ScriptedTransport([status(503), status(503), ok(DOCUMENT('8.0.1.0'))]);
    const client = new SoapClient({ transport, retries: 1, versionRetryMs: 50 });
    assert.equal(await client.negotiateVersion(), FALLBACK_API_VERSION);
    assert.equal(await client.negotiateVersion(), FALLBACK_API_VERSION);
    assert.equal(transport.gets, 2, 'one try and one retry, then nothing during the interval');
    assert.equal(client.apiVersion, undefined);
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(await client.negotiateVersion(), '8.0.1.0');
    assert.equal(client.apiVersion, '8.0.1.0');
    transport.close();
  });
});

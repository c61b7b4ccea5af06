/**
 * The SOAPAction version when /sdk/vimServiceVersions.xml does not answer, through the fault
 * proxy in front of vcsim (which announces 6.5): a 5xx or a reset is retried; a 5xx that outlasts
 * the retries gives a real vim25 version id (the schema's), only for a while, after which the
 * document is read again; a 404 (servers older than the document) gives it for good. Each case
 * asserts the SOAPAction header the next SOAP request carried.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { HttpTransport, SoapClient } from '../../src/blocks.ts';
import { ManagedObjectReference } from '../../src/index.ts';
import { FALLBACK_API_VERSION } from '../../src/soap/client.ts';
import type { FaultRule } from '../reliability/fault-proxy.ts';
import { type Rig, sleep, startRig } from '../reliability/harness.ts';

const DOCUMENT = '/sdk/vimServiceVersions.xml';
const ANNOUNCED = 'urn:vim25/6.5';
const SERVICE_INSTANCE = new ManagedObjectReference('ServiceInstance', 'ServiceInstance');
let rig: Rig;
const clients: SoapClient[] = [];

before(async () => {
  rig = await startRig();
});
beforeEach(() => {
  rig.proxy.setRules([]);
});
after(async () => {
  for (const client of clients) client.transport.close();
  await rig?.close();
});

function soapClient(options: { retries?: number; versionRetryMs?: number } = {}): SoapClient {
  const client = new SoapClient({ transport: new HttpTransport({ url: rig.proxy.sdkUrl }), ...options });
  clients.push(client);
  return client;
}

/** What the requests from index `from` on were: the document GETs, and the POSTs' SOAPActions. */
function since(from: number): { gets: number; actions: (string | undefined)[] } {
  const requests = rig.proxy.requests.slice(from);
  return {
    gets: requests.filter((r) => r.httpMethod === 'GET' && r.path === DOCUMENT).length,
    actions: requests.filter((r) => r.httpMethod === 'POST').map((r) => r.soapAction),
  };
}

const onDocument = (fault: FaultRule['fault'], times?: number): FaultRule => ({
  path: DOCUMENT,
  fault,
  ...(times !== undefined ? { times } : {}),
});

const serviceContent = (client: SoapClient) =>
  client.call('RetrieveServiceContent', { _this: SERVICE_INSTANCE });

describe('vimServiceVersions.xml unavailable', () => {
  it('the fallback is a real vim25 version id, the one the schema was generated from', () => {
    assert.match(FALLBACK_API_VERSION, /^\d+\.\d+\.\d+\.\d+$/);
  });

  it('one 503 (a load balancer): retried, and the SOAPAction is the announced version', async () => {
    rig.proxy.setRules([onDocument({ kind: 'status', status: 503 }, 1)]);
    const from = rig.proxy.requests.length;
    const client = soapClient();
    await serviceContent(client);
    assert.deepEqual(since(from), { gets: 2, actions: [ANNOUNCED] });
    assert.equal(client.apiVersion, '6.5');
  });

  it('a connection reset on the GET: retried, the announced version', async () => {
    rig.proxy.setRules([onDocument({ kind: 'reset' }, 2)]);
    const from = rig.proxy.requests.length;
    await serviceContent(soapClient());
    assert.deepEqual(since(from), { gets: 3, actions: [ANNOUNCED] });
  });

  it('503s outlasting the retries: the schema’s version for a while, then the document again', async () => {
    rig.proxy.setRules([onDocument({ kind: 'status', status: 503 })]);
    const from = rig.proxy.requests.length;
    const client = soapClient({ retries: 2, versionRetryMs: 1500 });
    await serviceContent(client);
    await serviceContent(client);
    assert.deepEqual(
      since(from),
      { gets: 3, actions: [`urn:vim25/${FALLBACK_API_VERSION}`, `urn:vim25/${FALLBACK_API_VERSION}`] },
      'three GETs (one try, two retries), then the fallback is kept for the interval',
    );
    assert.equal(client.apiVersion, undefined, 'nothing is remembered for good');
    rig.proxy.setRules([]);
    await sleep(1600);
    const later = rig.proxy.requests.length;
    await serviceContent(client);
    await serviceContent(client);
    assert.deepEqual(since(later), { gets: 1, actions: [ANNOUNCED, ANNOUNCED] });
    assert.equal(client.apiVersion, '6.5');
  });

  it('a provider through the 503: every call, Login included, carries the announced version', async () => {
    rig.proxy.setRules([onDocument({ kind: 'status', status: 503 }, 1)]);
    const from = rig.proxy.requests.length;
    const provider = rig.provider();
    await provider.describe({ 'infrakit.group': 'versions' });
    await provider.close();
    const { gets, actions } = since(from);
    assert.equal(gets, 2);
    assert.ok(actions.length >= 3, `calls made: ${actions.length}`);
    assert.deepEqual(new Set(actions), new Set([ANNOUNCED]));
  });

  it('a 404 (no document at all): the schema’s version for good, the document never asked again', async () => {
    rig.proxy.setRules([onDocument({ kind: 'status', status: 404 })]);
    const from = rig.proxy.requests.length;
    const client = soapClient({ versionRetryMs: 100 });
    await serviceContent(client);
    await sleep(200);
    await serviceContent(client);
    assert.deepEqual(since(from), {
      gets: 1,
      actions: [`urn:vim25/${FALLBACK_API_VERSION}`, `urn:vim25/${FALLBACK_API_VERSION}`],
    });
    assert.equal(client.apiVersion, FALLBACK_API_VERSION);
  });

  it('a pinned apiVersion reads no document', async () => {
    rig.proxy.setRules([onDocument({ kind: 'status', status: 503 })]);
    const from = rig.proxy.requests.length;
    const client = new SoapClient({
      transport: new HttpTransport({ url: rig.proxy.sdkUrl }),
      apiVersion: '8.0.3.0',
    });
    clients.push(client);
    await serviceContent(client);
    assert.deepEqual(since(from), { gets: 0, actions: ['urn:vim25/8.0.3.0'] });
  });
});

/**
 * close() racing a login, against vcsim behind the fault proxy: a Login still on the wire when
 * close() is called creates a session in vCenter that only its answer's cookie can end, so close
 * must wait for it and log it out; close() before Login was sent must keep it from being sent;
 * nothing after close logs in. Sessions are counted in vcsim's SessionManager.sessionList, read
 * by a separate client, after the delayed Login has certainly reached vcsim.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SessionClosedError, VSphereError } from '../../src/index.ts';
import {
  describeError,
  liveSessions,
  PASSWORD,
  PROVIDER_USER,
  type Rig,
  settle,
  sleep,
  startRig,
} from '../reliability/harness.ts';
import { SecretWatch } from '../reliability/secrets.ts';

const LOGIN_DELAY_MS = 800;
const watch = new SecretWatch().captureDebug().secret(PASSWORD);
let rig: Rig;

before(async () => {
  rig = await startRig();
  watch.cookiesFrom(rig.proxy);
});
after(async () => {
  await rig?.close();
});

async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('close() while a login is in flight', () => {
  it('close() during the first Login waits for it and logs out the session it produced', async () => {
    rig.proxy.setRules([{ method: 'Login', fault: { kind: 'latency', ms: LOGIN_DELAY_MS } }]);
    const provider = rig.provider();
    const logins = rig.proxy.count('Login').requests;
    const connecting = settle(provider.client.connect());
    await until(() => rig.proxy.count('Login').requests > logins, 'the Login request');
    await provider.close();
    const outcome = await connecting;
    // Well past the moment the delayed Login reaches vcsim, whatever close() did.
    await sleep(LOGIN_DELAY_MS + 700);
    assert.equal(rig.proxy.count('Login').forwarded, logins + 1, 'the Login reached vcsim');
    assert.equal(outcome.ok, false, 'connect() after close() does not report a usable session');
    if (!outcome.ok) {
      watch.error('connect during close', outcome.error);
      assert.ok(outcome.error instanceof SessionClosedError, describeError(outcome.error));
    }
    assert.equal(await liveSessions(rig.admin, PROVIDER_USER), 0, 'vcsim holds no session of the provider');
    assert.deepEqual(provider.client.session.stats, { logins: 1, logouts: 1, relogins: 0 });
  });

  it('close() before Login was sent: no Login is sent at all', async () => {
    rig.proxy.setRules([{ method: 'RetrieveServiceContent', fault: { kind: 'latency', ms: 500 } }]);
    const provider = rig.provider();
    const contents = rig.proxy.count('RetrieveServiceContent').requests;
    const logins = rig.proxy.count('Login').requests;
    const connecting = settle(provider.client.connect());
    await until(
      () => rig.proxy.count('RetrieveServiceContent').requests > contents,
      'RetrieveServiceContent',
    );
    await provider.close();
    const outcome = await connecting;
    await sleep(1000);
    assert.equal(outcome.ok, false);
    if (!outcome.ok) assert.ok(outcome.error instanceof VSphereError, describeError(outcome.error));
    assert.equal(rig.proxy.count('Login').requests, logins, 'no Login after close()');
    assert.equal(await liveSessions(rig.admin, PROVIDER_USER), 0);
  });

  it('close() during a re-login logs out the new session too', async () => {
    rig.proxy.setRules([]);
    const before = await liveSessions(rig.admin, PROVIDER_USER);
    const provider = rig.provider();
    await provider.client.connect();
    rig.proxy.setRules([{ method: 'Login', fault: { kind: 'latency', ms: LOGIN_DELAY_MS } }]);
    const logins = rig.proxy.count('Login').requests;
    // A forgotten cookie makes the next call log in again (as after NotAuthenticated).
    provider.client.soap.clearCookie();
    const describing = settle(provider.describe({ 'infrakit.group': 'close-relogin' }));
    await until(() => rig.proxy.count('Login').requests > logins, 'the second Login');
    await provider.close();
    const outcome = await describing;
    await sleep(LOGIN_DELAY_MS + 700);
    assert.equal(outcome.ok, false);
    if (!outcome.ok) assert.ok(outcome.error instanceof SessionClosedError, describeError(outcome.error));
    // The first session was dropped with its cookie (the client can no longer end it); vcsim
    // keeps it until it expires. The one the re-login made must not be left too.
    assert.equal(
      await liveSessions(rig.admin, PROVIDER_USER),
      before + 1,
      'only the session whose cookie was thrown away is left',
    );
    assert.equal(provider.client.session.stats.logouts, 1, 'the re-login’s session was logged out');
  });

  it('nothing after close() logs in: calls are refused with SessionClosedError', async () => {
    rig.proxy.setRules([]);
    const before = await liveSessions(rig.admin, PROVIDER_USER);
    const provider = rig.provider();
    await provider.client.connect();
    await provider.close();
    const logins = rig.proxy.count('Login').requests;
    for (const work of [
      () => provider.describe({ 'infrakit.group': 'after-close' }),
      () => provider.client.connect(),
      () => provider.client.session.invoke('CurrentTime', {}),
    ]) {
      const outcome = await settle(work());
      assert.equal(outcome.ok, false);
      if (!outcome.ok) assert.ok(outcome.error instanceof SessionClosedError, describeError(outcome.error));
    }
    assert.equal(rig.proxy.count('Login').requests, logins);
    assert.equal(await liveSessions(rig.admin, PROVIDER_USER), before);
  });

  it('no password or session cookie in any debug line or error', () => {
    assert.ok(watch.cookieCount >= 2, `cookies seen: ${watch.cookieCount}`);
    assert.deepEqual(watch.leaks(), []);
  });
});

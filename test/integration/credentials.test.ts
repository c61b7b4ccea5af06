/**
 * A user and no password (URL without one, no password option, VCPASSWORD unset or empty) is
 * refused before a single request, by the library and by the CLI and `serve`: sent, it would come
 * back as vCenter's InvalidLogin, blaming a password nobody gave, and count against the account's
 * lockout. The fault proxy in front of vcsim records every connection and request it receives.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { VSphereClient } from '../../src/blocks.ts';
import { main } from '../../src/cli/main.ts';
import { ValidationError, VSphereInstanceProvider } from '../../src/index.ts';
import { describeError, PROVIDER_USER, type Rig, startRig } from '../reliability/harness.ts';

let rig: Rig;
let dir: string;

before(async () => {
  rig = await startRig();
  dir = await mkdtemp(join(tmpdir(), 'ikv-cred-'));
});
after(async () => {
  await rig?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** `http://user@127.0.0.1:PORT/sdk`: the proxy's URL with a user and no password. */
function userOnlyUrl(withColon = false): string {
  const url = new URL(rig.proxy.sdkUrl);
  url.username = PROVIDER_USER;
  return withColon ? url.toString().replace('@', ':@') : url.toString();
}

function assertNothingSent(before: { requests: number; connections: number }): void {
  assert.equal(rig.proxy.totals.requests, before.requests, 'no request reached the server');
  assert.equal(rig.proxy.connections, before.connections, 'no connection was even opened');
}

const seen = () => ({ requests: rig.proxy.totals.requests, connections: rig.proxy.connections });

class Sink {
  text = '';
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

describe('a user and no password', () => {
  const cases: [string, () => unknown][] = [
    ['client: URL with a user only', () => new VSphereClient({ url: userOnlyUrl(), keepAliveMs: 0 })],
    ['client: URL with "user:@"', () => new VSphereClient({ url: userOnlyUrl(true), keepAliveMs: 0 })],
    [
      'client: username option, empty password option',
      () =>
        new VSphereClient({ url: rig.proxy.sdkUrl, username: PROVIDER_USER, password: '', keepAliveMs: 0 }),
    ],
    [
      'provider: env VCURL with a user only',
      () => new VSphereInstanceProvider({ env: { VCURL: userOnlyUrl() } }),
    ],
  ];
  for (const [name, make] of cases) {
    it(`${name}: a ValidationError on password before any request`, async () => {
      const before = seen();
      let made: { close(): Promise<unknown> } | undefined;
      let error: unknown;
      try {
        made = make() as { close(): Promise<unknown> };
        // Without the check the mistake only shows at the first call: make it.
        await (made instanceof VSphereClient
          ? made.connect()
          : (made as VSphereInstanceProvider).describe({}));
      } catch (caught) {
        error = caught;
      } finally {
        await made?.close();
      }
      assert.ok(error instanceof ValidationError, describeError(error));
      assert.deepEqual(
        error.issues.map((issue) => issue.field),
        ['password'],
      );
      assertNothingSent(before);
    });
  }

  it('the CLI (describe) exits 2 with a usage error naming where a password goes, sending nothing', async () => {
    for (const env of [{ VCURL: userOnlyUrl() }, { VCURL: userOnlyUrl(), VCPASSWORD: '' }]) {
      const before = seen();
      const stdout = new Sink();
      const stderr = new Sink();
      const code = await main(['describe'], {
        stdout,
        stderr,
        env,
        cwd: dir,
        stdin: (async function* () {})(),
      });
      assert.equal(code, 2, stderr.text);
      assert.match(stderr.text, /password: no password given: .*--password-file, env VCPASSWORD/);
      assertNothingSent(before);
    }
  });

  it('serve exits 2 before logging in or creating its socket, sending nothing', async () => {
    const before = seen();
    const stdout = new Sink();
    const stderr = new Sink();
    const pluginsDir = join(dir, 'plugins');
    const code = await main(['serve', '--name', 'vsphere'], {
      stdout,
      stderr,
      env: { VCURL: userOnlyUrl(), INFRAKIT_PLUGINS_DIR: pluginsDir },
      cwd: dir,
      stdin: (async function* () {})(),
      handleSignals: false,
    });
    assert.equal(code, 2, stderr.text);
    assert.match(stderr.text, /no password given/);
    assert.equal(existsSync(join(pluginsDir, 'vsphere')), false);
    assertNothingSent(before);
  });
});

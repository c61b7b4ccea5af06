/**
 * Where the endpoint and credentials come from, and what is refused before any request: no URL,
 * no user, no password (an empty one counts as none: vCenter has no account without one).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../src/errors.ts';
import { resolveEndpoint } from '../../src/session/credentials.ts';

function fieldsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ValidationError, String(error));
    return error.issues.map((issue) => issue.field);
  }
  assert.fail('expected a ValidationError');
}

describe('resolveEndpoint', () => {
  it('takes the password from the option over the URL, percent-decoded', () => {
    const fromUrl = resolveEndpoint({ url: 'https://u:p%40ss@vc/sdk' }, {});
    assert.equal(fromUrl.password, 'p@ss');
    assert.equal(fromUrl.sdkUrl.toString(), 'https://vc/sdk', 'no credentials left in the URL');
    assert.equal(resolveEndpoint({ url: 'https://u:p@vc', password: 'opt' }, {}).password, 'opt');
  });

  it('a user and no password anywhere is a ValidationError on password, naming every source', () => {
    for (const options of [
      { url: 'https://user@vc.example.com/sdk' },
      { url: 'https://user:@vc.example.com/sdk' },
      { url: 'https://vc.example.com/sdk', username: 'user' },
      { url: 'https://user@vc.example.com/sdk', password: '' },
    ]) {
      assert.deepEqual(
        fieldsOf(() => resolveEndpoint(options, {})),
        ['password'],
        JSON.stringify(options),
      );
    }
    assert.throws(
      () => resolveEndpoint({}, { VCURL: 'https://user@vc/sdk' }),
      /password: no password given: put it in the URL .*the password option .*--password-file, env VCPASSWORD/,
    );
  });

  it('an empty password option falls back to the one in the URL', () => {
    assert.equal(resolveEndpoint({ url: 'https://u:fromurl@vc/sdk', password: '' }, {}).password, 'fromurl');
  });

  it('still names the user first when there is neither user nor password', () => {
    assert.deepEqual(
      fieldsOf(() => resolveEndpoint({ url: 'https://vc/sdk' }, {})),
      ['username'],
    );
  });
});

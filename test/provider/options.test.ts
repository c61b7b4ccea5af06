/**
 * Option checks at construction: a value of the wrong type is a ValidationError naming the option,
 * whatever it would have meant as a truthy value; TLS contradictions and CA bundles that are not
 * PEM certificates are refused before any socket exists. No vCenter is needed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { VSphereClient } from '../../src/client.ts';
import { ValidationError } from '../../src/errors.ts';
import {
  booleanOption,
  checkAll,
  describeValue,
  functionOption,
  integerOption,
  objectOption,
  stringOption,
} from '../../src/options.ts';
import { VSphereInstanceProvider } from '../../src/provider/provider.ts';
import { HttpTransport } from '../../src/transport/http.ts';
import {
  pemCertificateIssues,
  resolveTrust,
  type TlsOptions,
  tlsOptionIssues,
} from '../../src/transport/tls.ts';

const CA = readFileSync(new URL('../fixtures/ca.pem', import.meta.url), 'utf8');
const SHA256 = 'AA'.repeat(32);
const BASE = { url: 'https://vc.example.com/sdk', username: 'u', password: 'Secr3t-pw', env: {} };

/** The issues of the ValidationError `fn` throws, as `field: message`. */
function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ValidationError, `a ValidationError, got ${String(error)}`);
    assert.equal(error.code, 'VALIDATION');
    return error.issues.map((issue) => `${issue.field}: ${issue.message}`);
  }
  assert.fail('expected a ValidationError');
}

describe('option helpers', () => {
  it('booleanOption takes true, false and undefined, and names what it got otherwise', () => {
    assert.equal(booleanOption(true, 'x'), true);
    assert.equal(booleanOption(false, 'x'), false);
    assert.equal(booleanOption(undefined, 'x'), undefined);
    assert.deepEqual(
      issuesOf(() => booleanOption('false', 'tls.insecure')),
      ['tls.insecure: expected a boolean (true or false), got the string "false"'],
    );
    for (const value of ['true', 1, 0, null, {}, []]) {
      assert.throws(() => booleanOption(value, 'x'), ValidationError, JSON.stringify(value));
    }
  });

  it('stringOption refuses other types, and empty strings when asked; a secret is never shown', () => {
    assert.equal(stringOption('a', 'x'), 'a');
    assert.equal(stringOption('', 'x'), '');
    assert.deepEqual(
      issuesOf(() => stringOption('', 'configHashTag', { nonEmpty: true })),
      ['configHashTag: expected a non-empty string'],
    );
    assert.deepEqual(
      issuesOf(() => stringOption(42, 'datastore')),
      ['datastore: expected a string, got the number 42'],
    );
    assert.equal(describeValue('hunter22', true), 'a string');
    assert.equal(describeValue('x'.repeat(41)), 'a long string');
  });

  it('integerOption refuses numeric strings, fractions, NaN and values out of range', () => {
    assert.equal(integerOption(5, 'x', { min: 1 }), 5);
    assert.equal(integerOption(undefined, 'x'), undefined);
    assert.deepEqual(
      issuesOf(() => integerOption('5000', 'timeoutMs', { min: 1, max: 10, unit: 'ms' })),
      ['timeoutMs: expected a whole number from 1 to 10 ms, got the string "5000"'],
    );
    for (const value of [1.5, Number.NaN, Number.POSITIVE_INFINITY, -1, 0]) {
      assert.throws(() => integerOption(value, 'x', { min: 1 }), ValidationError, String(value));
    }
  });

  it('functionOption and objectOption check their kind', () => {
    const f = () => undefined;
    assert.equal(functionOption(f, 'cb'), f);
    assert.throws(() => functionOption('f', 'cb'), ValidationError);
    assert.deepEqual(objectOption({ a: 1 }, 'env'), { a: 1 });
    for (const value of [[], 'x', null, Buffer.alloc(1)]) assert.throws(() => objectOption(value, 'env'));
  });

  it('checkAll reports every issue at once and lets other errors through', () => {
    assert.deepEqual(
      issuesOf(() =>
        checkAll('invalid options', [() => booleanOption('yes', 'a'), () => integerOption('1', 'b')]),
      ).map((line) => line.split(':')[0]),
      ['a', 'b'],
    );
    assert.throws(
      () =>
        checkAll('x', [
          () => {
            throw new RangeError('boom');
          },
        ]),
      RangeError,
    );
  });
});

describe('TLS options', () => {
  it('insecure: "false" (a string) is refused, not taken as insecure, even next to a pin', () => {
    assert.deepEqual(
      issuesOf(() => resolveTrust({ insecure: 'false' } as unknown as TlsOptions)),
      ['tls.insecure: expected a boolean (true or false), got the string "false"'],
    );
    const withPin = issuesOf(() =>
      resolveTrust({ insecure: 'false', thumbprint: SHA256 } as unknown as TlsOptions),
    );
    assert.ok(
      withPin.some((line) => line.startsWith('tls.insecure: expected a boolean')),
      withPin.join('; '),
    );
  });

  it('insecure: false is the default verification; insecure: true alone is insecure', () => {
    assert.equal(resolveTrust({ insecure: false }).kind, 'verify');
    assert.equal(resolveTrust({ insecure: false, thumbprint: SHA256 }).kind, 'pin');
    assert.equal(resolveTrust({ insecure: true }).kind, 'insecure');
    assert.equal(resolveTrust({ thumbprint: undefined, ca: undefined }).kind, 'verify');
  });

  it('refuses contradictions: insecure with ca or thumbprint, and thumbprint with ca', () => {
    const cases: [TlsOptions, RegExp][] = [
      [{ insecure: true, thumbprint: SHA256 }, /^tls: insecure: true .*cannot be combined with thumbprint/],
      [{ insecure: true, ca: CA }, /^tls: insecure: true .*cannot be combined with ca/],
      [{ thumbprint: SHA256, ca: CA }, /^tls: choose one of thumbprint or ca/],
    ];
    for (const [options, expected] of cases) {
      const issues = issuesOf(() => resolveTrust(options));
      assert.equal(issues.length, 1, issues.join('; '));
      assert.match(issues[0]!, expected);
    }
  });

  it('checks the types of thumbprint and ca, and that tls is an object', () => {
    assert.deepEqual(
      issuesOf(() => resolveTrust({ thumbprint: 42 } as unknown as TlsOptions)),
      ['tls.thumbprint: expected a string, got the number 42'],
    );
    assert.match(
      issuesOf(() => resolveTrust({ thumbprint: 'not-hex' }))[0]!,
      /^tls.thumbprint: expected a SHA-256/,
    );
    assert.match(
      issuesOf(() => resolveTrust({ ca: 7 } as unknown as TlsOptions))[0]!,
      /^tls.ca: expected a PEM string or Buffer, or an array of them, got the number 7/,
    );
    assert.match(issuesOf(() => resolveTrust({ ca: [] }))[0]!, /^tls.ca: .*got an empty array/);
    assert.deepEqual(
      issuesOf(() => resolveTrust('insecure' as unknown as TlsOptions)),
      ['tls: expected an object, got the string "insecure"'],
    );
  });

  it('takes PEM certificates as a string, a Buffer or an array; refuses anything that is not one', () => {
    assert.equal(resolveTrust({ ca: CA }).kind, 'verify');
    assert.equal(resolveTrust({ ca: Buffer.from(CA) }).kind, 'verify');
    assert.equal(resolveTrust({ ca: [CA, Buffer.from(CA + CA)] }).kind, 'verify');
    assert.deepEqual(pemCertificateIssues(CA + CA, 'ca'), []);
    assert.match(
      issuesOf(() => resolveTrust({ ca: 'not a certificate' }))[0]!,
      /^tls.ca: expected PEM .*found none/,
    );
    const junk = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    assert.deepEqual(
      issuesOf(() => resolveTrust({ ca: [CA, CA + junk] })),
      ['tls.ca[1]: certificate 2 of 2 is not a valid X.509 certificate'],
    );
    // A private key is not a certificate, and must not be echoed either.
    const key = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n';
    const issues = issuesOf(() => resolveTrust({ ca: key }));
    assert.ok(!issues.join('').includes('MIGH'), issues.join('; '));
  });

  it('tlsOptionIssues lists every problem at once', () => {
    const issues = tlsOptionIssues({ insecure: 'no', thumbprint: 1, ca: 2 });
    assert.deepEqual(
      issues.map((i) => i.field),
      ['tls.insecure', 'tls.thumbprint', 'tls.ca', 'tls'],
    );
  });

  it('a transport built directly refuses the same options', () => {
    assert.throws(
      () => new HttpTransport({ url: 'https://vc/sdk', tls: { insecure: 'false' } as unknown as TlsOptions }),
      (error: unknown) => error instanceof ValidationError && error.issues[0]?.field === 'tls.insecure',
    );
  });
});

describe('client and provider options are checked at construction', () => {
  it('a client refuses each option of the wrong type, naming it; the password is never shown', () => {
    const bad = {
      ...BASE,
      password: 12345678,
      tls: { insecure: 'false' },
      timeoutMs: '120000',
      keepAliveMs: -1,
      maxSockets: 0,
      retries: '3',
      maxWaitSeconds: 1.5,
      apiVersion: '',
    } as unknown as ConstructorParameters<typeof VSphereClient>[0];
    let message = '';
    const fields = issuesOf(() => {
      try {
        return new VSphereClient(bad);
      } catch (error) {
        message = (error as Error).message;
        throw error;
      }
    }).map((line) => line.split(':')[0]);
    assert.deepEqual(fields, [
      'password',
      'tls.insecure',
      'timeoutMs',
      'keepAliveMs',
      'apiVersion',
      'maxSockets',
      'retries',
      'maxWaitSeconds',
    ]);
    assert.ok(!message.includes('12345678'), message);
    assert.match(message, /^invalid options: /);
  });

  it('a URL of the wrong type is refused without echoing it', () => {
    const issues = issuesOf(
      () => new VSphereClient({ ...BASE, url: ['https://u:pw@vc'] as unknown as string }),
    );
    assert.deepEqual(issues, ['url: expected a string, got an array']);
  });

  it('valid options build a client and a provider without any network I/O', async () => {
    const client = new VSphereClient({
      ...BASE,
      tls: { ca: CA, insecure: false },
      timeoutMs: 1000,
      keepAliveMs: 0,
      maxSockets: 4,
      retries: 0,
      maxWaitSeconds: 5,
    });
    await client.close();
    const provider = new VSphereInstanceProvider({ ...BASE, ignoreOnDestroy: false, shutdownTimeoutMs: 0 });
    await provider.close();
  });

  it('a provider refuses ignoreOnDestroy: "false" and other mistyped options of its own', () => {
    const bad = {
      ...BASE,
      ignoreOnDestroy: 'false',
      shutdownTimeoutMs: '30000',
      maxConcurrentBuildsPerHost: '4',
      datastore: 3,
      configHashTag: '',
      onBackgroundError: 'log',
      env: 'production',
    } as unknown as ConstructorParameters<typeof VSphereInstanceProvider>[0];
    assert.deepEqual(
      issuesOf(() => new VSphereInstanceProvider(bad)).map((line) => line.split(':')[0]),
      [
        'datastore',
        'configHashTag',
        'ignoreOnDestroy',
        'shutdownTimeoutMs',
        'maxConcurrentBuildsPerHost',
        'onBackgroundError',
        'env',
      ],
    );
  });

  it('maxConcurrentBuildsPerHost takes a whole number from 0 (no limit) to 1024', async () => {
    for (const bad of [-1, 2.5, 1025, Number.POSITIVE_INFINITY, true, null]) {
      const options = { ...BASE, maxConcurrentBuildsPerHost: bad as unknown as number };
      assert.deepEqual(
        issuesOf(() => new VSphereInstanceProvider(options)).map((line) => line.split(':')[0]),
        ['maxConcurrentBuildsPerHost'],
        String(bad),
      );
    }
    for (const good of [0, 1, 8, 1024]) {
      await new VSphereInstanceProvider({ ...BASE, maxConcurrentBuildsPerHost: good }).close();
    }
  });

  it('a provider on a given client still checks its own options', () => {
    const client = new VSphereClient(BASE);
    assert.throws(
      () => new VSphereInstanceProvider({ client, ignoreOnDestroy: 1 as unknown as boolean }),
      (error: unknown) => error instanceof ValidationError && error.issues[0]?.field === 'ignoreOnDestroy',
    );
  });
});

/**
 * The CLI without vCenter: a fake provider factory records the options each command resolves.
 * Help on every command, exit codes, flag/env/config precedence, passwords from files and env,
 * secrets kept out of every output, table/JSON output and the progress reporter.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseListen } from '../../src/cli/commands/serve.ts';
import { type CliProvider, COMMANDS, ExitCode, main, PROGRAM } from '../../src/cli/main.ts';
import { exitCodeFor, formatTable, instanceTable, ProgressReporter } from '../../src/cli/output.ts';
import { ValidationError, VSphereError } from '../../src/errors.ts';
import type { VSphereInstanceProviderOptions } from '../../src/provider/provider.ts';
import { LoginError } from '../../src/session/session.ts';
import type { InstanceDescription, InstanceSpec, JsonValue } from '../../src/spi/instance.ts';
import { TlsError, TransportError } from '../../src/transport/errors.ts';
import { VimFault } from '../../src/vim25/index.ts';
import { NotFoundError } from '../../src/vsphere/errors.ts';
import { call } from '../plugin/rpc-client.ts';

const SECRET = 'Sup3r-S3cret!pw';
const CA_PEM = readFileSync(new URL('../fixtures/ca.pem', import.meta.url), 'utf8');

class Sink {
  text = '';
  isTTY: boolean | undefined;
  columns: number | undefined;
  constructor(isTTY?: boolean, columns?: number) {
    this.isTTY = isTTY;
    this.columns = columns;
  }
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

interface Call {
  method: string;
  args: unknown[];
}

class FakeProvider implements CliProvider {
  readonly options: VSphereInstanceProviderOptions;
  readonly subtype: string;
  readonly calls: Call[] = [];
  failWith: unknown;
  describeResult: InstanceDescription[] = [];
  closed = false;
  constructor(options: VSphereInstanceProviderOptions, subtype: string) {
    this.options = options;
    this.subtype = subtype;
  }
  #record(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
    if (this.failWith !== undefined) throw this.failWith;
  }
  async validate(properties: JsonValue | undefined): Promise<void> {
    this.#record('validate', properties);
  }
  async provision(spec: InstanceSpec): Promise<string> {
    this.#record('provision', spec);
    return 'vm-42';
  }
  async label(id: string, labels: Record<string, string>): Promise<void> {
    this.#record('label', id, labels);
  }
  async destroy(id: string, context: { Reason: string }): Promise<void> {
    this.#record('destroy', id, context);
  }
  async describe(tags: Record<string, string>, options?: { properties?: boolean }) {
    this.#record('describe', tags, options);
    return this.describeResult;
  }
  async uploadIso(source: unknown, options: { onProgress?: (sent: number, total: number) => void }) {
    this.#record('uploadIso', source, options);
    options.onProgress?.(50, 100);
    options.onProgress?.(100, 100);
    return { datastorePath: '[ds] iso/a.iso', bytes: 100 };
  }
  async connect(): Promise<void> {
    this.#record('connect');
  }
  async close(): Promise<undefined> {
    this.closed = true;
    return undefined;
  }
}

interface RunOptions {
  env?: NodeJS.ProcessEnv;
  stdin?: string;
  setup?: (provider: FakeProvider) => void;
  stderrTTY?: boolean;
  signal?: AbortSignal;
  providers?: FakeProvider[];
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  providers: FakeProvider[];
}

let dir: string;

async function run(argv: string[], options: RunOptions = {}): Promise<RunResult> {
  const stdout = new Sink();
  const stderr = new Sink(options.stderrTTY, 80);
  const providers: FakeProvider[] = options.providers ?? [];
  const code = await main(argv, {
    stdout,
    stderr,
    stdin: (async function* () {
      if (options.stdin !== undefined) yield Buffer.from(options.stdin);
    })(),
    env: options.env ?? {},
    cwd: dir,
    handleSignals: false,
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    createProvider: (providerOptions, subtype) => {
      const provider = new FakeProvider(providerOptions, subtype);
      options.setup?.(provider);
      providers.push(provider);
      return provider;
    },
  });
  return { code, stdout: stdout.text, stderr: stderr.text, providers };
}

const URL_ENV = { VCURL: 'https://vc.example.com/sdk', VCUSERNAME: 'admin' };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ikv-cli-'));
  await writeFile(join(dir, 'pw.txt'), `${SECRET}\n`);
  await writeFile(join(dir, 'props.json'), JSON.stringify({ Datastore: 'ds1', Template: 't1' }));
  await writeFile(
    join(dir, 'spec.json'),
    JSON.stringify({ Properties: { Template: 't1' }, Tags: { 'infrakit.config.hash': 'h' } }),
  );
  await writeFile(join(dir, 'not-json.json'), '{"Datastore": ');
  await writeFile(join(dir, 'a.iso'), Buffer.alloc(100));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('help', () => {
  it('prints the general help with every command and the exit codes', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const result = await run(argv);
      assert.equal(result.code, 0);
      for (const command of COMMANDS) assert.match(result.stdout, new RegExp(`\\n  ${command.name} `));
      assert.match(result.stdout, /4 {2}vCenter unreachable/);
      assert.equal(result.providers.length, 0);
    }
  });

  for (const command of COMMANDS) {
    it(`${command.name} --help and help ${command.name} print its usage and flags, exit 0, touch nothing`, async () => {
      for (const argv of [
        [command.name, '--help'],
        [command.name, '-h'],
        ['help', command.name],
      ]) {
        const result = await run(argv, { env: { ...URL_ENV, VCPASSWORD: SECRET } });
        assert.equal(result.code, 0, argv.join(' '));
        assert.ok(result.stdout.startsWith(`Usage: ${PROGRAM} ${command.name}`), result.stdout);
        assert.match(result.stdout, /--url URL/);
        assert.match(result.stdout, /--help, -h/);
        assert.match(result.stdout, /Exit codes: 0 ok, 1 failed, 2 usage, 3 validation, 4 connection/);
        assert.ok(!result.stdout.includes(SECRET));
        assert.ok(!result.stdout.includes('vc.example.com'), 'help shows no environment value');
        assert.equal(result.providers.length, 0);
      }
    });
  }

  it('--help wins over other flags, even wrong ones after it are not reached', async () => {
    const result = await run(['describe', '--help', '--group', 'g']);
    assert.equal(result.code, 0);
  });

  it('prints the version', async () => {
    const result = await run(['--version']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^\d+\.\d+\.\d+/);
    assert.equal((await run(['version'])).stdout, result.stdout);
  });
});

describe('usage errors exit 2', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown command', ['frobnicate'], /unknown command "frobnicate"/],
    ['unknown command with a suggestion', ['descibe'], /did you mean describe\?/],
    ['unknown flag', ['describe', '--grup', 'g'], /unknown flag --grup \(did you mean --group\?\)/],
    ['missing positional', ['provision'], /missing <spec.json \| ->/],
    ['extra positional', ['destroy', 'a', 'b'], /unexpected argument "b"/],
    ['bad reason', ['destroy', 'a', '--reason', 'later'], /expected one of terminate, rolling_update/],
    ['label without labels', ['label', 'vm-1'], /at least one label/],
    ['label pair without =', ['label', 'vm-1', 'oops'], /expected key=value/],
    ['unreadable spec file', ['provision', 'missing.json'], /missing.json: cannot read it \(ENOENT\)/],
    ['push-iso of a missing file', ['push-iso', 'nope.iso', '--datastore', 'ds'], /nope.iso: cannot read it/],
    ['push-iso without a datastore', ['push-iso', 'a.iso'], /--datastore is required/],
    ['--type without --config', ['describe', '--type', 'lab'], /--type lab needs --config/],
    ['bad --listen', ['serve', '--listen', '0.0.0.0:80'], /only loopback addresses/],
  ];
  for (const [name, argv, message] of cases) {
    it(name, async () => {
      const result = await run(argv, { env: URL_ENV });
      assert.equal(result.code, ExitCode.usage, result.stderr);
      assert.match(result.stderr, message);
      assert.equal(result.stdout, '');
    });
  }

  it('no URL anywhere', async () => {
    const result = await run(['describe', '--group', 'g']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /no vCenter URL: give --url \(or set VCURL\)/);
    assert.match(result.stderr, /Run 'infrakit-instance-vsphere describe --help' for usage/);
  });

  it('a provider that refuses its options (bad URL, conflicting TLS) is a usage error', async () => {
    const stdout = new Sink();
    const stderr = new Sink();
    const code = await main(
      ['describe', '--url', 'https://vc/sdk', '--username', 'u', '--insecure', '--thumbprint', 'AA'],
      {
        stdout,
        stderr,
        env: {},
        cwd: dir,
      },
    );
    assert.equal(code, 2);
    assert.match(stderr.text, /--insecure cannot be combined with --thumbprint/);
  });
});

describe('connection options', () => {
  it('takes flags over environment variables', async () => {
    const result = await run(
      [
        'describe',
        '--url',
        'https://flag.example.com/sdk',
        '--datacenter',
        'FlagDC',
        '--username',
        'flaguser',
      ],
      { env: { ...URL_ENV, VCDATACENTER: 'EnvDC', VCTHUMBPRINT: 'AB:CD' } },
    );
    assert.equal(result.code, 0, result.stderr);
    const options = result.providers[0]!.options;
    assert.equal(options.url, 'https://flag.example.com/sdk');
    assert.equal(options.datacenter, 'FlagDC');
    assert.equal(options.username, 'flaguser');
    assert.deepEqual(options.tls, { thumbprint: 'AB:CD' });
    assert.deepEqual(options.env, {}, 'the provider reads no environment of its own');
    assert.ok(result.providers[0]!.closed);
  });

  it('reads every original variable: VCURL, VCDATACENTER, VCDATASTORE, VCNETWORK, VCHOST', async () => {
    const result = await run(['validate', 'props.json'], {
      env: {
        VCURL: 'https://u:p@vc/sdk',
        VCDATACENTER: 'DC',
        VCDATASTORE: 'DS',
        VCNETWORK: 'Net',
        VCHOST: 'esx1',
      },
    });
    assert.equal(result.code, 0, result.stderr);
    const o = result.providers[0]!.options;
    assert.deepEqual(
      [o.url, o.datacenter, o.datastore, o.network, o.host],
      ['https://u:p@vc/sdk', 'DC', 'DS', 'Net', 'esx1'],
    );
  });

  it('accepts the original Go flags with one dash, as InfraKit start scripts wrote them', async () => {
    const result = await run([
      'validate',
      'props.json',
      '-url',
      'https://u:p@vc/sdk',
      '-datacenter',
      'DC',
      '-datastore',
      'DS',
      '-network',
      'Net',
      '-hostname',
      'esx1',
      '-ignoreOnDestroy',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const o = result.providers[0]!.options;
    assert.deepEqual(
      [o.url, o.datacenter, o.datastore, o.network, o.host, o.ignoreOnDestroy],
      ['https://u:p@vc/sdk', 'DC', 'DS', 'Net', 'esx1', true],
    );
  });

  it('takes the password from --password-file, else VCPASSWORD, else the URL', async () => {
    const fromFile = await run(['describe', '--password-file', 'pw.txt'], {
      env: { ...URL_ENV, VCPASSWORD: 'from-env' },
    });
    assert.equal(fromFile.providers[0]!.options.password, SECRET);
    const fromEnv = await run(['describe'], { env: { ...URL_ENV, VCPASSWORD: 'from-env' } });
    assert.equal(fromEnv.providers[0]!.options.password, 'from-env');
    const fromUrl = await run(['describe'], { env: { VCURL: 'https://u:p@vc/sdk' } });
    assert.equal(fromUrl.providers[0]!.options.password, undefined, 'the provider reads it from the URL');
  });

  it("honours govc's variables after its own: GOVC_URL, GOVC_USERNAME, GOVC_PASSWORD, GOVC_DATACENTER…", async () => {
    const GOVC = {
      GOVC_URL: 'govc.example.com',
      GOVC_USERNAME: 'govc-user',
      GOVC_PASSWORD: SECRET,
      GOVC_DATACENTER: 'GovcDC',
      GOVC_DATASTORE: 'GovcDS',
      GOVC_NETWORK: 'GovcNet',
      GOVC_HOST: 'esx-govc',
      GOVC_FOLDER: 'govc/folder',
    };
    const govcOnly = await run(['describe'], { env: GOVC });
    assert.equal(govcOnly.code, 0, govcOnly.stderr);
    const g = govcOnly.providers[0]!.options;
    assert.deepEqual(
      [g.url, g.username, g.password, g.datacenter, g.datastore, g.network, g.host, g.folder],
      ['govc.example.com', 'govc-user', SECRET, 'GovcDC', 'GovcDS', 'GovcNet', 'esx-govc', 'govc/folder'],
    );
    const own = await run(['validate', 'props.json', '--datastore', 'FlagDS'], {
      env: { ...GOVC, ...URL_ENV, VCPASSWORD: 'own-password', VCDATACENTER: 'OwnDC' },
    });
    assert.equal(own.code, 0, own.stderr);
    const o = own.providers[0]!.options;
    assert.deepEqual(
      [o.url, o.username, o.password, o.datacenter, o.datastore, o.network],
      [URL_ENV.VCURL, 'admin', 'own-password', 'OwnDC', 'FlagDS', 'GovcNet'],
      "the plugin's own flags and variables win; govc's fill the rest",
    );
  });

  it('takes GOVC_INSECURE and GOVC_TLS_CA_CERTS only without trust settings of its own, strictly', async () => {
    await writeFile(join(dir, 'ca.pem'), CA_PEM);
    await writeFile(join(dir, 'ca2.pem'), CA_PEM);
    const env = { ...URL_ENV, VCPASSWORD: SECRET };
    const insecure = await run(['describe'], { env: { ...env, GOVC_INSECURE: '1' } });
    assert.deepEqual(insecure.providers[0]!.options.tls, { insecure: true });
    const notInsecure = await run(['describe'], { env: { ...env, GOVC_INSECURE: 'false' } });
    assert.deepEqual(notInsecure.providers[0]!.options.tls, {});
    const cas = await run(['describe'], {
      env: { ...env, GOVC_TLS_CA_CERTS: `ca.pem:${join(dir, 'ca2.pem')}` },
    });
    assert.equal(cas.code, 0, cas.stderr);
    assert.equal(String(cas.providers[0]!.options.tls?.ca).match(/BEGIN CERTIFICATE/g)?.length, 2);
    const pin = 'AA'.repeat(32);
    const ownPin = await run(['describe'], { env: { ...env, VCTHUMBPRINT: pin, GOVC_INSECURE: 'true' } });
    assert.equal(ownPin.code, 0, ownPin.stderr);
    assert.deepEqual(ownPin.providers[0]!.options.tls, { thumbprint: pin }, 'its own pin, not govc insecure');
    const cases: [NodeJS.ProcessEnv, RegExp][] = [
      [{ GOVC_INSECURE: 'yes please' }, /GOVC_INSECURE: expected a boolean/],
      [
        { GOVC_INSECURE: '1', GOVC_TLS_CA_CERTS: 'ca.pem' },
        /GOVC_INSECURE cannot be combined with GOVC_TLS_CA_CERTS/,
      ],
      [{ GOVC_TLS_CA_CERTS: 'pw.txt' }, /GOVC_TLS_CA_CERTS .*pw\.txt: not a PEM CA certificate file/],
    ];
    for (const [extra, message] of cases) {
      const result = await run(['describe'], { env: { ...env, ...extra } });
      assert.equal(result.code, ExitCode.usage, result.stderr);
      assert.match(result.stderr, message);
      assert.equal(result.providers.length, 0, 'no provider was made');
      assert.ok(!result.stderr.includes(SECRET), result.stderr);
    }
  });

  it('refuses an unreadable or empty password file, without a secret in the message', async () => {
    await writeFile(join(dir, 'empty.pw'), '\n');
    const missing = await run(['describe', '--password-file', 'nope.pw'], { env: URL_ENV });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--password-file .*nope.pw: cannot read it \(ENOENT\)/);
    const empty = await run(['describe', '--password-file', 'empty.pw'], { env: URL_ENV });
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /first line is empty/);
  });

  it('reads --ca-file into tls.ca, and passes --insecure', async () => {
    await writeFile(join(dir, 'ca.pem'), CA_PEM);
    const ca = await run(['describe', '--ca-file', 'ca.pem'], { env: URL_ENV });
    assert.equal(ca.code, 0, ca.stderr);
    assert.match(String(ca.providers[0]!.options.tls?.ca), /BEGIN CERTIFICATE/);
    const insecure = await run(['describe', '-k'], { env: URL_ENV });
    assert.deepEqual(insecure.providers[0]!.options.tls, { insecure: true });
  });

  it('parses the CA file at start: one that is not PEM certificates is a usage error naming the file', async () => {
    await writeFile(
      join(dir, 'junk-ca.pem'),
      '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    );
    await writeFile(
      join(dir, 'key.pem'),
      `-----BEGIN PRIVATE KEY-----\n${SECRET}\n-----END PRIVATE KEY-----\n`,
    );
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [
        ['--ca-file', 'junk-ca.pem'],
        {},
        /--ca-file .*junk-ca\.pem: not a PEM CA certificate file: certificate 1 of 1 is not a valid X\.509/,
      ],
      [
        [],
        { VCCAFILE: join(dir, 'key.pem') },
        /VCCAFILE .*key\.pem: not a PEM CA certificate file: expected PEM certificate\(s\)/,
      ],
      [['--ca-file', 'pw.txt'], {}, /--ca-file .*pw\.txt: not a PEM CA certificate file/],
    ];
    for (const [flags, env, message] of cases) {
      const result = await run(['describe', ...flags], { env: { ...URL_ENV, VCPASSWORD: SECRET, ...env } });
      assert.equal(result.code, ExitCode.usage, result.stderr);
      assert.match(result.stderr, message);
      assert.equal(result.providers.length, 0, 'no provider was made');
      assert.ok(!result.stderr.includes(SECRET), result.stderr);
    }
    const serve = await run(['serve', '--ca-file', 'junk-ca.pem'], {
      env: { ...URL_ENV, INFRAKIT_PLUGINS_DIR: join(dir, 'plugins-junk-ca') },
    });
    assert.equal(serve.code, ExitCode.usage, serve.stderr);
    assert.match(serve.stderr, /--ca-file .*junk-ca\.pem: not a PEM CA certificate file/);
    assert.equal(existsSync(join(dir, 'plugins-junk-ca')), false, 'serve stopped before making its socket');
  });

  it('refuses two trust modes from flags and environment before reading any file', async () => {
    await writeFile(join(dir, 'ca.pem'), CA_PEM);
    const pin = 'AA'.repeat(32);
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [['--insecure', '--ca-file', 'ca.pem'], {}, /--insecure cannot be combined with --ca-file/],
      [['-k'], { VCTHUMBPRINT: pin }, /--insecure cannot be combined with VCTHUMBPRINT/],
      [['--thumbprint', pin], { VCCAFILE: join(dir, 'ca.pem') }, /VCCAFILE and --thumbprint given together/],
      [
        ['--insecure=yes', '--thumbprint', pin, '--password-file', 'nope.pw'],
        {},
        /--insecure cannot be combined/,
      ],
    ];
    for (const [flags, env, message] of cases) {
      const result = await run(['describe', ...flags], { env: { ...URL_ENV, ...env } });
      assert.equal(result.code, ExitCode.usage, result.stderr);
      assert.match(result.stderr, message);
      assert.equal(result.providers.length, 0);
    }
  });

  it('reads a boolean flag value strictly: true/false, 1/0, yes/no, nothing else', async () => {
    const yes = await run(['validate', 'props.json', '--ignoreOnDestroy=YES'], { env: URL_ENV });
    assert.equal(yes.providers[0]!.options.ignoreOnDestroy, true);
    const no = await run(['validate', 'props.json', '-ignoreOnDestroy=0'], { env: URL_ENV });
    assert.equal(no.providers[0]!.options.ignoreOnDestroy, false);
    for (const value of ['t', 'on', 'flase', '']) {
      const result = await run(['describe', `--insecure=${value}`], { env: URL_ENV });
      assert.equal(result.code, ExitCode.usage, value);
      assert.match(result.stderr, /flag --insecure: expected true or false \(or 1\/0, yes\/no\)/);
      assert.equal(result.providers.length, 0);
    }
  });
});

describe('--config subtypes', () => {
  it('builds one provider per subtype: entry beats flag beats env; relative files from the config dir', async () => {
    const sub = await mkdtemp(join(dir, 'conf-'));
    await writeFile(join(sub, 'lab.pw'), 'lab-password\n');
    await writeFile(
      join(sub, 'config.json'),
      JSON.stringify({
        subtypes: {
          '': { datacenter: 'DC1' },
          lab: {
            url: 'https://lab.example.com/sdk',
            username: 'svc',
            passwordFile: 'lab.pw',
            thumbprint: 'AA:BB',
            hostname: 'esx9',
            ignoreOnDestroy: true,
            vmPrefix: 'lab',
          },
        },
      }),
    );
    const result = await run(
      [
        'validate',
        'props.json',
        '--config',
        join(sub, 'config.json'),
        '--type',
        'lab',
        '--datastore',
        'FlagDS',
      ],
      {
        env: { ...URL_ENV, VCPASSWORD: 'env-password', VCDATACENTER: 'EnvDC', VCINSECURE: '1' },
      },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.providers.length, 1);
    const lab = result.providers[0]!;
    assert.equal(lab.subtype, 'lab');
    assert.equal(lab.options.url, 'https://lab.example.com/sdk');
    assert.equal(lab.options.username, 'svc');
    assert.equal(lab.options.password, 'lab-password');
    assert.deepEqual(lab.options.tls, { thumbprint: 'AA:BB' });
    assert.equal(lab.options.host, 'esx9');
    assert.equal(lab.options.datastore, 'FlagDS', 'from the flag');
    assert.equal(lab.options.datacenter, 'EnvDC', 'from the environment');
    assert.equal(lab.options.ignoreOnDestroy, true);
    assert.equal(lab.options.vmPrefix, 'lab');

    const main = await run(['describe', '--config', join(sub, 'config.json')], {
      env: { ...URL_ENV, VCPASSWORD: 'env-password' },
    });
    assert.equal(main.code, 0, main.stderr);
    const o = main.providers[0]!.options;
    assert.equal(main.providers[0]!.subtype, '');
    assert.equal(o.url, URL_ENV.VCURL);
    assert.equal(o.password, 'env-password');
    assert.equal(o.datacenter, 'DC1');
  });

  it('does not give an entry with its own credentials in the URL the shared password', async () => {
    await writeFile(
      join(dir, 'own-url.json'),
      JSON.stringify({ subtypes: { '.': { url: 'https://me:mine@vc2/sdk' } } }),
    );
    const result = await run(['describe', '--config', 'own-url.json'], {
      env: { ...URL_ENV, VCPASSWORD: 'shared' },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.providers[0]!.options.password, undefined);
    assert.equal(result.providers[0]!.options.username, undefined);
  });

  it('reads passwordEnv', async () => {
    await writeFile(join(dir, 'penv.json'), JSON.stringify({ subtypes: { '': { passwordEnv: 'LAB_PW' } } }));
    const ok = await run(['describe', '--config', 'penv.json'], { env: { ...URL_ENV, LAB_PW: 'lab' } });
    assert.equal(ok.providers[0]!.options.password, 'lab');
    const unset = await run(['describe', '--config', 'penv.json'], { env: URL_ENV });
    assert.equal(unset.code, 2);
    assert.match(unset.stderr, /passwordEnv: LAB_PW is not set/);
  });

  const bad: [string, string, RegExp][] = [
    ['not JSON', '{', /not JSON/],
    ['not an object', '[]', /expected an object/],
    ['unknown top-level key', '{"subtype": {}}', /unknown key "subtype" \(did you mean subtypes\?\)/],
    ['no subtypes', '{"subtypes": {}}', /"subtypes" is empty/],
    ['a slash in a subtype name', '{"subtypes": {"a/b": {}}}', /a subtype name is letters/],
    ['"" and "." both', '{"subtypes": {"": {}, ".": {}}}', /default subtype is given twice/],
    [
      'wrong types and unknown keys, all listed',
      '{"subtypes": {"x": {"url": 5, "insecure": "yes", "datastor": "d"}}}',
      /url: expected a non-empty string.*insecure: expected true or false.*datastor: unknown key \(did you mean datastore\?\)/,
    ],
    [
      'a boolean written as a string',
      '{"subtypes": {"": {"insecure": "false", "ignoreOnDestroy": "true"}}}',
      /subtypes\[""\]\.insecure: expected true or false \(a JSON boolean\), got the string "false".*subtypes\[""\]\.ignoreOnDestroy: expected true or false \(a JSON boolean\), got the string "true"/,
    ],
    [
      'insecure with a pin',
      '{"subtypes": {"lab": {"insecure": true, "thumbprint": "AA"}}}',
      /subtypes\["lab"\]: insecure cannot be combined with thumbprint/,
    ],
    [
      'insecure with a CA file',
      '{"subtypes": {"lab": {"insecure": true, "caFile": "ca.pem"}}}',
      /subtypes\["lab"\]: insecure cannot be combined with caFile/,
    ],
    [
      'a CA file and a pin',
      '{"subtypes": {"lab": {"caFile": "ca.pem", "thumbprint": "AA"}}}',
      /subtypes\["lab"\]: give caFile or thumbprint, not both/,
    ],
    [
      'a caFile that is not PEM',
      '{"subtypes": {"lab": {"url": "https://vc/sdk", "caFile": "pw.txt"}}}',
      /subtype "lab": caFile .*pw\.txt: not a PEM CA certificate file/,
    ],
    [
      'two password sources',
      '{"subtypes": {"x": {"password": "a", "passwordEnv": "B"}}}',
      /give one of password, passwordEnv/,
    ],
  ];
  for (const [name, text, message] of bad) {
    it(`refuses a config file with ${name} (exit 2)`, async () => {
      await writeFile(join(dir, 'bad.json'), text);
      const result = await run(['serve', '--config', 'bad.json'], { env: URL_ENV });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.equal(result.providers.length, 0);
    });
  }

  it('refuses a --type the config does not define, listing the ones it does', async () => {
    await writeFile(join(dir, 'two.json'), JSON.stringify({ subtypes: { '': {}, lab: {} } }));
    const result = await run(['describe', '--config', 'two.json', '--type', 'prod'], { env: URL_ENV });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /no such subtype .* \("", "lab"\)/);
  });
});

describe('secrets', () => {
  it('never prints the password: not from the URL, the env, a file, nor the config, in output or errors', async () => {
    await writeFile(
      join(dir, 'secret-config.json'),
      JSON.stringify({ subtypes: { '': { password: SECRET } } }),
    );
    const urlWithSecret = `https://admin:${encodeURIComponent(SECRET)}@vc.example.com/sdk`;
    const leaky = new VSphereError('VIM_FAULT', `failed talking to ${urlWithSecret} with ${SECRET}`);
    const runs = [
      await run(['describe'], { env: { VCURL: urlWithSecret }, setup: (p) => (p.failWith = leaky) }),
      await run(['describe', '--json'], {
        env: { ...URL_ENV, VCPASSWORD: SECRET },
        setup: (p) => (p.failWith = leaky),
      }),
      await run(['describe', '--password-file', 'pw.txt'], {
        env: URL_ENV,
        setup: (p) => (p.failWith = leaky),
      }),
      await run(['describe', '--config', 'secret-config.json'], {
        env: URL_ENV,
        setup: (p) => (p.failWith = leaky),
      }),
      await run(['describe', '--url', urlWithSecret, '--bogus']),
      await run(['serve', '--help'], { env: { VCURL: urlWithSecret, VCPASSWORD: SECRET } }),
    ];
    for (const result of runs) {
      const all = result.stdout + result.stderr;
      assert.ok(!all.includes(SECRET), all);
      assert.ok(!all.includes(encodeURIComponent(SECRET)), all);
    }
    assert.match(runs[0]!.stderr, /failed talking to https:\/\/admin:\*\*\*@vc.example.com\/sdk with \*\*\*/);
  });
  it('a config file that is not JSON because of an unquoted password does not print it', async () => {
    // V8's JSON.parse message quotes the text around the error: here, the password.
    await writeFile(join(dir, 'unquoted.json'), `{"subtypes": {"": {"password": ${SECRET}}}}`);
    const result = await run(['serve', '--config', 'unquoted.json'], { env: URL_ENV });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /unquoted\.json: not JSON/);
    const all = result.stdout + result.stderr;
    assert.ok(!all.includes(SECRET.slice(0, 8)), all);
    // Where V8 says where, the operator is told.
    await writeFile(join(dir, 'comma.json'), `{"subtypes": {"": {"password": "${SECRET}",}}}`);
    const comma = await run(['serve', '--config', 'comma.json'], { env: URL_ENV });
    assert.equal(comma.code, 2, comma.stderr);
    assert.match(comma.stderr, /comma\.json: not JSON \(at position \d+ \(line 1 column \d+\)\)/);
    assert.ok(!(comma.stdout + comma.stderr).includes(SECRET.slice(0, 8)), comma.stderr);
  });
});

describe('operator commands (fake provider)', () => {
  const descriptions: InstanceDescription[] = [
    {
      ID: 'vm-2',
      Tags: { 'infrakit.group': 'g', 'infrakit.config.hash': 'h', guestIP: '' },
      Properties: { PowerState: 'poweredOff' },
    },
    {
      ID: 'vm-1',
      Tags: { 'infrakit.group': 'g', 'infrakit.config.hash': 'h', role: 'db', guestIP: '10.0.0.5' },
      Properties: { PowerState: 'poweredOn' },
    },
  ];

  it('describe prints a sorted table: NAME, POWER, IP, TAGS', async () => {
    const result = await run(['describe', '--group', 'g', '--tag', 'role=db'], {
      env: URL_ENV,
      setup: (p) => (p.describeResult = descriptions),
    });
    assert.equal(result.code, 0);
    assert.deepEqual(result.providers[0]!.calls[0], {
      method: 'describe',
      args: [{ role: 'db', 'infrakit.group': 'g' }, { properties: true }],
    });
    assert.equal(
      result.stdout,
      'NAME  POWER  IP        TAGS\n' +
        'vm-1  on     10.0.0.5  infrakit.config.hash=h infrakit.group=g role=db\n' +
        'vm-2  off    -         infrakit.config.hash=h infrakit.group=g\n',
    );
  });

  it('describe --json prints descriptions, with Properties only when asked', async () => {
    const plain = await run(['describe', '--group', 'g', '--json'], {
      env: URL_ENV,
      setup: (p) => (p.describeResult = descriptions),
    });
    const parsed = JSON.parse(plain.stdout) as InstanceDescription[];
    assert.equal(parsed.length, 2);
    assert.ok(parsed.every((d) => d.Properties === undefined));
    const full = await run(['describe', '--group', 'g', '--json', '--properties'], {
      env: URL_ENV,
      setup: (p) => (p.describeResult = descriptions),
    });
    assert.deepEqual(JSON.parse(full.stdout), descriptions);
  });

  it('describe with no match says so on stderr and prints nothing on stdout', async () => {
    const result = await run(['describe', '--group', 'none'], { env: URL_ENV });
    assert.equal(result.code, 0);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /no instances in group "none"/);
    const json = await run(['describe', '--group', 'none', '--json'], { env: URL_ENV });
    assert.equal(json.stdout.trim(), '[]');
  });

  it('provision reads a spec from a file or stdin and merges --group/--tag into its tags', async () => {
    const fromFile = await run(['provision', 'spec.json', '--group', 'g', '--tag', 'a=1'], { env: URL_ENV });
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.equal(fromFile.stdout, 'vm-42\n');
    const spec = fromFile.providers[0]!.calls[0]!.args[0] as InstanceSpec;
    assert.deepEqual(spec.Tags, { 'infrakit.config.hash': 'h', 'infrakit.group': 'g', a: '1' });
    const fromStdin = await run(['provision', '-', '--json'], {
      env: URL_ENV,
      stdin: JSON.stringify({ Properties: {}, Tags: { 'infrakit.group': 'x' } }),
    });
    assert.deepEqual(JSON.parse(fromStdin.stdout), { ID: 'vm-42' });
  });

  it('input that is not JSON, or a spec that is not an object, is a validation error (exit 3)', async () => {
    const notJson = await run(['validate', 'not-json.json'], { env: URL_ENV });
    assert.equal(notJson.code, 3);
    assert.match(notJson.stderr, /not-json.json: not JSON/);
    const notObject = await run(['provision', '-'], { env: URL_ENV, stdin: '[1]' });
    assert.equal(notObject.code, 3);
  });

  it('validate accepts properties or a whole spec', async () => {
    const props = await run(['validate', 'props.json'], { env: URL_ENV });
    assert.deepEqual(props.providers[0]!.calls[0]!.args[0], { Datastore: 'ds1', Template: 't1' });
    assert.equal(props.stdout, 'OK\n');
    const spec = await run(['validate', 'spec.json', '--json'], { env: URL_ENV });
    assert.deepEqual(spec.providers[0]!.calls[0]!.args[0], { Template: 't1' });
    assert.deepEqual(JSON.parse(spec.stdout), { OK: true });
  });

  it('a validation error lists every issue, one per line, and exits 3; --json adds it on stdout', async () => {
    const error = new ValidationError(
      [
        { field: 'Properties.Datastore', message: 'required' },
        { field: 'Properties.CPUs', message: 'expected a number' },
      ],
      'invalid properties',
    );
    const result = await run(['validate', 'props.json', '--json'], {
      env: URL_ENV,
      setup: (p) => (p.failWith = error),
    });
    assert.equal(result.code, 3);
    assert.equal(
      result.stderr,
      `${PROGRAM}: invalid properties:\n  Properties.Datastore: required\n  Properties.CPUs: expected a number\n`,
    );
    const json = JSON.parse(result.stdout) as { error: { code: string; issues: unknown[] } };
    assert.equal(json.error.code, 'VALIDATION');
    assert.equal(json.error.issues.length, 2);
  });

  it('does not repeat a field an issue message already starts with', async () => {
    const error = new ValidationError(
      [
        { field: 'Properties.Datastore', message: 'Properties.Datastore: datastore "x" not found' },
        { field: 'Properties.CPUs', message: 'expected a number' },
      ],
      'invalid properties',
    );
    const result = await run(['validate', 'props.json'], {
      env: URL_ENV,
      setup: (p) => (p.failWith = error),
    });
    assert.match(result.stderr, /\n {2}Properties\.Datastore: datastore "x" not found\n/);
  });

  it('destroy passes the reason; label passes the labels', async () => {
    const destroyed = await run(['destroy', 'vm-1', '--reason', 'rolling_update'], { env: URL_ENV });
    assert.equal(destroyed.stdout, 'destroyed vm-1\n');
    assert.deepEqual(destroyed.providers[0]!.calls[0]!.args, ['vm-1', { Reason: 'rolling_update' }]);
    const labelled = await run(['label', 'vm-1', 'a=1', 'b=2', '--json'], { env: URL_ENV });
    assert.deepEqual(labelled.providers[0]!.calls[0]!.args, ['vm-1', { a: '1', b: '2' }]);
    assert.deepEqual(JSON.parse(labelled.stdout), { ID: 'vm-1', OK: true });
  });

  it('push-iso uploads the file with the path defaulting to its name, and reports progress', async () => {
    const result = await run(['push-iso', 'a.iso', '--datastore', 'ds'], { env: URL_ENV });
    assert.equal(result.code, 0, result.stderr);
    const [source, options] = result.providers[0]!.calls[0]!.args as [
      string,
      { path: string; datastore: string; overwrite: boolean },
    ];
    assert.equal(source, join(dir, 'a.iso'));
    assert.equal(options.path, 'a.iso');
    assert.equal(options.datastore, 'ds');
    assert.equal(options.overwrite, false);
    assert.match(result.stderr, /uploading a.iso: 50%/);
    assert.match(result.stderr, /uploading a.iso: 100%/);
    assert.equal(result.stdout, 'uploaded [ds] iso/a.iso (100 bytes)\n');
  });
});

describe('exit codes of failures', () => {
  const fault = new VimFault('InvalidLogin', { _type: 'InvalidLogin' }, 'Cannot complete login');
  const cases: [string, unknown, number][] = [
    ['a validation error', new ValidationError([{ field: 'x', message: 'y' }]), 3],
    [
      'a missing datastore named by the input',
      new NotFoundError('datastore', 'x', 'DC0', { field: 'Properties.Datastore' }),
      3,
    ],
    ['a missing instance', new NotFoundError('vm', 'x', 'DC0', { field: 'Instance' }), 1],
    ['a refused connection', new TransportError('connect ECONNREFUSED', { errno: 'ECONNREFUSED' }), 4],
    ['an untrusted certificate', new TlsError('TLS_UNTRUSTED', 'untrusted'), 4],
    ['a refused login', new LoginError('admin', fault), 4],
    ['a vCenter fault', new VSphereError('VIM_FAULT', 'no'), 1],
    ['anything else', new Error('boom'), 1],
  ];
  for (const [name, error, code] of cases) {
    it(`${name} → ${code}`, async () => {
      assert.equal(exitCodeFor(error), code);
      const result = await run(['describe'], { env: URL_ENV, setup: (p) => (p.failWith = error) });
      assert.equal(result.code, code);
      assert.ok(result.stderr.startsWith(`${PROGRAM}: `), result.stderr);
      assert.ok(result.providers[0]!.closed, 'the provider is closed after a failure');
    });
  }
});

describe('serve in process (fake providers)', () => {
  it('logs every subtype in, serves them on the socket until aborted, then removes it', async () => {
    const pluginsDir = await mkdtemp(join(tmpdir(), 'ikv-'));
    await writeFile(
      join(dir, 'serve.json'),
      JSON.stringify({ subtypes: { '': {}, lab: { datacenter: 'Lab' } } }),
    );
    const controller = new AbortController();
    const providers: FakeProvider[] = [];
    const running = run(['serve', '--config', 'serve.json', '--name', 'vs', '--log-level', 'error'], {
      env: { ...URL_ENV, INFRAKIT_PLUGINS_DIR: pluginsDir },
      signal: controller.signal,
      providers,
    });
    const socketPath = join(pluginsDir, 'vs');
    const deadline = Date.now() + 5000;
    while (!existsSync(`${socketPath}.pid`)) {
      assert.ok(Date.now() < deadline, 'the server did not start');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(
      providers.map((p) => [p.subtype, p.calls.map((c) => c.method)]),
      [
        ['', ['connect']],
        ['lab', ['connect']],
      ],
    );
    const types = await call({ socketPath }, 'Handshake.Types', {});
    assert.deepEqual(types.reply.result, { Types: { 'Instance/0.6.0': ['.', 'lab'] } });
    await call({ socketPath }, 'Instance.Label', { Type: 'lab', Instance: 'vm-1', Labels: { a: 'b' } });
    assert.deepEqual(providers[1]!.calls[1], { method: 'label', args: ['vm-1', { a: 'b' }] });
    controller.abort();
    const result = await running;
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stderr,
      /vs: infrakit-instance-vsphere \S+ serving on .*\/vs \(pid \d+; subtypes \., lab; vCenter https:\/\/vc\.example\.com\/sdk\)/,
    );
    assert.match(result.stderr, /vs: stopped; removed /);
    assert.ok(!existsSync(socketPath) && !existsSync(`${socketPath}.pid`));
    assert.ok(providers.every((p) => p.closed));
    await rm(pluginsDir, { recursive: true, force: true });
  });

  it('serve mirrors describe (one provider, so one mirror per group, per subtype) unless the environment says 0', async () => {
    for (const [env, expected] of [
      [{}, true],
      [{ INFRAKIT_VSPHERE_DESCRIBE_MIRROR: '0' }, false],
    ] as const) {
      const pluginsDir = await mkdtemp(join(tmpdir(), 'ikv-'));
      const controller = new AbortController();
      const providers: FakeProvider[] = [];
      const running = run(['serve', '--name', 'vm', '--log-level', 'error'], {
        env: { ...URL_ENV, ...env, INFRAKIT_PLUGINS_DIR: pluginsDir },
        signal: controller.signal,
        providers,
      });
      const deadline = Date.now() + 5000;
      while (!existsSync(join(pluginsDir, 'vm.pid'))) {
        assert.ok(Date.now() < deadline, 'the server did not start');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      controller.abort();
      assert.equal((await running).code, 0);
      assert.equal(providers[0]!.options.describeMirror, expected);
      await rm(pluginsDir, { recursive: true, force: true });
    }
    // A one-shot command leaves it to the library, which keeps it off.
    const once = await run(['describe', '--tag', 'infrakit.group=g'], { env: URL_ENV });
    assert.ok(once.providers[0], once.stderr);
    assert.equal(once.providers[0].options.describeMirror, undefined);
  });

  it("serve --max-builds-per-host sets the per-host build limit; a config entry's own key wins; a bad value is a usage error", async () => {
    const pluginsDir = await mkdtemp(join(tmpdir(), 'ikv-'));
    await writeFile(
      join(pluginsDir, 'config.json'),
      JSON.stringify({ subtypes: { '': {}, lab: { maxConcurrentBuildsPerHost: 2 } } }),
    );
    const controller = new AbortController();
    const providers: FakeProvider[] = [];
    const running = run(
      [
        'serve',
        '--name',
        'vm',
        '--log-level',
        'error',
        '--max-builds-per-host',
        '3',
        '--config',
        join(pluginsDir, 'config.json'),
      ],
      { env: { ...URL_ENV, INFRAKIT_PLUGINS_DIR: pluginsDir }, signal: controller.signal, providers },
    );
    const deadline = Date.now() + 5000;
    while (!existsSync(join(pluginsDir, 'vm.pid'))) {
      assert.ok(Date.now() < deadline, 'the server did not start');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    controller.abort();
    assert.equal((await running).code, 0);
    const bySubtype = new Map(providers.map((p) => [p.subtype, p.options.maxConcurrentBuildsPerHost]));
    assert.deepEqual(Object.fromEntries(bySubtype), { '': 3, lab: 2 });
    for (const bad of ['-1', '1025', '2.5', 'eight']) {
      const result = await run(['serve', '--max-builds-per-host', bad], {
        env: { ...URL_ENV, INFRAKIT_PLUGINS_DIR: pluginsDir },
      });
      assert.equal(result.code, 2, bad);
      assert.match(
        result.stderr,
        /--max-builds-per-host .*expected a whole number from 0 \(no limit\) to 1024/,
      );
    }
    await rm(pluginsDir, { recursive: true, force: true });
  });

  it('a refused login exits 4, closes every provider and creates no socket', async () => {
    const pluginsDir = await mkdtemp(join(tmpdir(), 'ikv-'));
    const fault = new VimFault('InvalidLogin', { _type: 'InvalidLogin' }, 'Cannot complete login');
    const result = await run(['serve'], {
      env: { ...URL_ENV, INFRAKIT_PLUGINS_DIR: pluginsDir },
      setup: (p) => (p.failWith = new LoginError('admin', fault)),
    });
    assert.equal(result.code, 4);
    assert.equal(
      result.stderr,
      'instance-vsphere: cannot log in to https://vc.example.com/sdk: vCenter refused the login of user "admin" (InvalidLogin) (LOGIN_FAILED)\n',
    );
    assert.ok(result.providers[0]!.closed);
    assert.ok(!existsSync(join(pluginsDir, 'instance-vsphere')));
    await rm(pluginsDir, { recursive: true, force: true });
  });

  it('--skip-login-check does not log in; a bad plugin name is a usage error', async () => {
    const pluginsDir = await mkdtemp(join(tmpdir(), 'ikv-'));
    const result = await run(['serve', '--skip-login-check', '--name', 'bad/name'], {
      env: { ...URL_ENV, INFRAKIT_PLUGINS_DIR: pluginsDir },
    });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /plugin name "bad\/name"/);
    assert.deepEqual(result.providers[0]!.calls, []);
    await rm(pluginsDir, { recursive: true, force: true });
  });
});

describe('output helpers', () => {
  it('formatTable pads all but the last column', () => {
    assert.equal(formatTable(['A', 'BB'], [['xxx', 'y']]), 'A    BB\nxxx  y\n');
  });

  it('instanceTable shows pending instances by their state', () => {
    const text = instanceTable([{ ID: 'vm-9', Tags: { 'infrakit.state': 'Provisioning' } }]);
    assert.match(text, /vm-9 {2}provisioning {2}- {3}infrakit.state=Provisioning/);
  });

  it('the progress reporter draws a bar on a terminal and percentage lines elsewhere', () => {
    let now = 0;
    const tty = new Sink(true, 100);
    const bar = new ProgressReporter(tty, 'up', () => now);
    for (let sent = 0; sent <= 100; sent += 10) {
      now += 200;
      bar.update(sent * 1048576, 100 * 1048576);
    }
    bar.finish();
    assert.match(tty.text, /\rup \[#+\.+\] {2}50% {2}50\.0 MiB \/ 100\.0 MiB/);
    assert.match(tty.text, /\rup \[#+\] 100%/);
    assert.ok(tty.text.endsWith('\n'));

    const plain = new Sink(false);
    const lines = new ProgressReporter(plain, 'up');
    for (let sent = 0; sent <= 1000; sent += 7) lines.update(sent, 1000);
    lines.update(1000, 1000);
    lines.finish();
    assert.deepEqual(
      plain.text
        .trim()
        .split('\n')
        .map((l) => l.replace(/ \(.*$/, '')),
      [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100].map((p) => `up: ${p}%`),
    );
  });

  it('parseListen accepts loopback host:port only', () => {
    assert.deepEqual(parseListen('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseListen('localhost:1'), { host: 'localhost', port: 1 });
    assert.throws(() => parseListen('10.0.0.1:80'), /only loopback/);
    assert.throws(() => parseListen('127.0.0.1'), /expected HOST:PORT/);
    assert.throws(() => parseListen('127.0.0.1:99999'), /expected HOST:PORT/);
  });
});

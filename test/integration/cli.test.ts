/**
 * The operator commands end to end against vcsim, in process through main(): validate, provision
 * (file and stdin), describe (table and JSON), label, destroy, push-iso; and the exit codes of
 * validation, connection, TLS and login failures. One run as a real child process checks that the
 * exit code reaches the shell. The password never appears in any output.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.ts';
import { Vcsim } from '../vcsim/vcsim.ts';

const PASSWORD = 'Cli-S3cret:pw@%';
const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

class Sink {
  text = '';
  isTTY = false;
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

let sim: Vcsim;
let dir: string;
let env: NodeJS.ProcessEnv;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(
  argv: string[],
  options: { env?: NodeJS.ProcessEnv; stdin?: string } = {},
): Promise<Result> {
  const stdout = new Sink();
  const stderr = new Sink();
  const code = await main(argv, {
    stdout,
    stderr,
    env: options.env ?? env,
    cwd: dir,
    stdin: (async function* () {
      if (options.stdin !== undefined) yield options.stdin;
    })(),
  });
  const all = stdout.text + stderr.text;
  assert.ok(
    !all.includes(PASSWORD) && !all.includes(encodeURIComponent(PASSWORD)),
    `password printed: ${all}`,
  );
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const PROPERTIES = { Datastore: 'LocalDS_0', Hostname: 'DC0_H0', Template: 'DC0_H0_VM0', PowerOn: true };

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

before(async () => {
  sim = await Vcsim.start({ username: 'operator', password: PASSWORD });
  dir = await mkdtemp(join(tmpdir(), 'ikv-cli-it-'));
  env = {
    VCURL: sim.sdkUrl,
    VCUSERNAME: 'operator',
    VCPASSWORD: PASSWORD,
    VCTHUMBPRINT: sim.certificate!.sha256,
    VCDATACENTER: 'DC0',
  };
  await writeFile(join(dir, 'props.json'), JSON.stringify(PROPERTIES));
  await writeFile(
    join(dir, 'spec.json'),
    JSON.stringify({ Properties: PROPERTIES, Tags: { 'infrakit.config.hash': 'hash1', tier: 'web' } }),
  );
  await writeFile(join(dir, 'pw'), `${PASSWORD}\n`);
  await writeFile(join(dir, 'linuxkit.iso'), Buffer.alloc(2 * 1024 * 1024 + 17, 0x5a));
  sim.startTools({ delayMs: 100 });
});

after(async () => {
  await sim?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('validate', () => {
  it('accepts properties naming things that exist (exit 0)', async () => {
    const result = await cli(['validate', 'props.json']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'OK\n');
  });

  it('rejects properties naming things that do not exist, listing each (exit 3)', async () => {
    const result = await cli(['validate', '-', '--json'], {
      stdin: JSON.stringify({ ...PROPERTIES, Datastore: 'NoSuchDS', Template: 'NoSuchTemplate' }),
    });
    assert.equal(result.code, 3, result.stderr);
    assert.match(
      result.stderr,
      /^infrakit-instance-vsphere: invalid properties:\n {2}Properties\.\w+: \w+ "NoSuch/,
    );
    assert.match(result.stderr, /\n {2}Properties\.Datastore: datastore "NoSuchDS" not found/);
    assert.match(result.stderr, /\n {2}Properties\.Template: template "NoSuchTemplate" not found/);
    const json = JSON.parse(result.stdout) as { error: { code: string; issues: unknown[] } };
    assert.equal(json.error.code, 'VALIDATION');
    assert.equal(json.error.issues.length, 2);
  });
});

describe('provision, describe, label, destroy', () => {
  const ids: string[] = [];

  it('provisions from a file and from stdin, printing the IDs', async () => {
    const fromFile = await cli(['provision', 'spec.json', '--group', 'cli-workers']);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.match(fromFile.stdout, /^vm-\d+\n$/);
    ids.push(fromFile.stdout.trim());
    const fromStdin = await cli(['provision', '-', '--json'], {
      stdin: JSON.stringify({
        Properties: PROPERTIES,
        Tags: { 'infrakit.group': 'cli-workers', 'infrakit.config.hash': 'hash1' },
      }),
    });
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    ids.push((JSON.parse(fromStdin.stdout) as { ID: string }).ID);
    const names = (await sim.listVms()).map((vm) => vm.name);
    for (const id of ids) assert.ok(names.includes(id), `${id} exists in vcsim`);
  });

  it('refuses a spec without the config hash (exit 3)', async () => {
    const result = await cli(['provision', '-', '--group', 'cli-workers'], {
      stdin: JSON.stringify({ Properties: PROPERTIES }),
    });
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /infrakit\.config\.hash/);
  });

  it('describes the group as a table: name, power, guest IP, tags', async () => {
    const table = await waitFor('guest IPs', async () => {
      const result = await cli(['describe', '--group', 'cli-workers']);
      assert.equal(result.code, 0, result.stderr);
      return /\s-\s/.test(result.stdout) ? undefined : result.stdout;
    });
    const lines = table.trimEnd().split('\n');
    assert.match(lines[0]!, /^NAME +POWER +IP +TAGS$/);
    assert.equal(lines.length, 3);
    for (const id of ids) {
      assert.match(
        table,
        new RegExp(
          `${id} +on +10\\.\\d+\\.\\d+\\.\\d+ +infrakit\\.config\\.hash=hash1 infrakit\\.group=cli-workers`,
        ),
      );
    }
    assert.match(table, /tier=web/);
  });

  it('describes as JSON, with vCenter details on request', async () => {
    const plain = await cli(['describe', '--group', 'cli-workers', '--json']);
    const descriptions = JSON.parse(plain.stdout) as { ID: string; Properties?: unknown }[];
    assert.deepEqual(descriptions.map((d) => d.ID).sort(), [...ids].sort());
    assert.ok(descriptions.every((d) => d.Properties === undefined));
    const full = await cli(['describe', '--group', 'cli-workers', '--json', '--properties']);
    const detailed = JSON.parse(full.stdout) as { Properties: { PowerState: string; MoRef: string } }[];
    assert.ok(
      detailed.every((d) => d.Properties.PowerState === 'poweredOn' && d.Properties.MoRef.startsWith('vm-')),
    );
  });

  it('labels one instance; describe --tag finds it', async () => {
    const labelled = await cli(['label', ids[0]!, 'role=leader', 'owner=ops']);
    assert.equal(labelled.code, 0, labelled.stderr);
    const found = await cli(['describe', '--group', 'cli-workers', '--tag', 'role=leader', '--json']);
    const descriptions = JSON.parse(found.stdout) as { ID: string; Tags: Record<string, string> }[];
    assert.deepEqual(
      descriptions.map((d) => d.ID),
      [ids[0]],
    );
    assert.equal(descriptions[0]!.Tags.owner, 'ops');
  });

  it('labelling an instance that does not exist fails (exit 1)', async () => {
    const result = await cli(['label', 'vm-123', 'a=b']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /vm-123/);
  });

  it('destroys both; the group is empty after', async () => {
    for (const id of ids) {
      const result = await cli(['destroy', id, '--reason', 'terminate']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `destroyed ${id}\n`);
    }
    const names = (await sim.listVms()).map((vm) => vm.name);
    for (const id of ids) assert.ok(!names.includes(id));
    const empty = await cli(['describe', '--group', 'cli-workers']);
    assert.equal(empty.code, 0);
    assert.equal(empty.stdout, '');
    assert.match(empty.stderr, /no instances in group "cli-workers"/);
  });

  it('destroy of an instance that is gone, or never was, fails (exit 1) naming it', async () => {
    for (const id of [ids[0]!, 'vm-404']) {
      const result = await cli(['destroy', id]);
      assert.equal(result.code, 1, result.stderr);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, new RegExp(`Instance: vm "${id}" not found in vCenter \\(NOT_FOUND\\)`));
    }
    const json = await cli(['destroy', 'vm-404', '--json']);
    assert.equal(json.code, 1);
    assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'NOT_FOUND');
  });

  it('destroy of a VM InfraKit does not manage fails (exit 1) and leaves it alone', async () => {
    const before = (await sim.listVms()).find((vm) => vm.name === 'DC0_H0_VM1');
    const result = await cli(['destroy', 'DC0_H0_VM1']);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /VM "DC0_H0_VM1" is not managed by InfraKit.*\(NOT_MANAGED\)/);
    const after = (await sim.listVms()).find((vm) => vm.name === 'DC0_H0_VM1');
    assert.deepEqual(after, before, 'untouched');
  });
});

describe('push-iso', () => {
  it('uploads with percentage lines when stderr is not a terminal; an existing file needs --overwrite', async () => {
    const first = await cli([
      'push-iso',
      'linuxkit.iso',
      '--datastore',
      'LocalDS_0',
      '--path',
      'iso/linuxkit.iso',
    ]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, `uploaded [LocalDS_0] iso/linuxkit.iso (${2 * 1024 * 1024 + 17} bytes)\n`);
    assert.match(first.stderr, /uploading linuxkit.iso: 100% \(2\.0 MiB of 2\.0 MiB\)/);
    const again = await cli([
      'push-iso',
      'linuxkit.iso',
      '--datastore',
      'LocalDS_0',
      '--path',
      'iso/linuxkit.iso',
    ]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists; use --overwrite to replace it \(FILE_EXISTS\)/);
    const overwritten = await cli([
      'push-iso',
      'linuxkit.iso',
      '--datastore',
      'LocalDS_0',
      '--path',
      'iso/linuxkit.iso',
      '--overwrite',
      '--json',
    ]);
    assert.equal(overwritten.code, 0, overwritten.stderr);
    assert.deepEqual(JSON.parse(overwritten.stdout), {
      DatastorePath: '[LocalDS_0] iso/linuxkit.iso',
      Bytes: 2 * 1024 * 1024 + 17,
    });
  });

  it('a datastore that does not exist is a validation error (exit 3)', async () => {
    const result = await cli(['push-iso', 'linuxkit.iso', '--datastore', 'NoSuchDS']);
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /NoSuchDS/);
  });
});

describe('connection failures exit 4', () => {
  it('a wrong password', async () => {
    const result = await cli(['describe', '--group', 'x'], { env: { ...env, VCPASSWORD: 'wrong-password' } });
    assert.equal(result.code, 4, result.stderr);
    assert.match(result.stderr, /refused the login of user "operator"/);
    assert.ok(!result.stderr.includes('wrong-password'));
  });

  it('nothing listening', async () => {
    const result = await cli(['describe', '--url', 'https://127.0.0.1:1/sdk']);
    assert.equal(result.code, 4, result.stderr);
    assert.match(result.stderr, /ECONNREFUSED/);
  });

  it("vcsim's self-signed certificate without a pin, and a wrong pin; --insecure connects", async () => {
    const { VCTHUMBPRINT: _pin, ...unpinned } = env;
    const untrusted = await cli(['describe'], { env: unpinned });
    assert.equal(untrusted.code, 4, untrusted.stderr);
    assert.match(untrusted.stderr, /TLS_UNTRUSTED/);
    assert.ok(
      untrusted.stderr.includes(
        `SHA-256 thumbprint ${sim.certificate!.sha256}.\nIf that is your vCenter, pin it with --thumbprint`,
      ),
      untrusted.stderr,
    );
    const wrong = await cli(['describe', '--thumbprint', 'AB'.repeat(32)]);
    assert.equal(wrong.code, 4, wrong.stderr);
    assert.match(wrong.stderr, /TLS_THUMBPRINT_MISMATCH/);
    const insecure = await cli(['describe', '--insecure'], { env: unpinned });
    assert.equal(insecure.code, 0, insecure.stderr);
  });
});

describe('credentials', () => {
  it('from the URL (the original --url form) and from --password-file', async () => {
    const { VCPASSWORD: _p, VCUSERNAME: _u, ...bare } = env;
    const inUrl = await cli(['describe', '--url', sim.urlWithCredentials], { env: bare });
    assert.equal(inUrl.code, 0, inUrl.stderr);
    const fromFile = await cli(['describe', '--username', 'operator', '--password-file', 'pw'], {
      env: bare,
    });
    assert.equal(fromFile.code, 0, fromFile.stderr);
  });
});

describe('as a process', () => {
  it('exits with the code main returns, and prints no password', async () => {
    const child = spawn(process.execPath, [CLI, 'describe', '--group', 'x'], {
      env: { ...process.env, ...env, VCPASSWORD: 'not-the-password', DEBUG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 4, output);
    assert.ok(!output.includes('not-the-password'));
  });
});

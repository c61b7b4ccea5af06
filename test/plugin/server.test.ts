import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InstanceNotManagedError, ValidationError, VSphereError } from '../../src/errors.ts';
import { PluginServer } from '../../src/plugin/server.ts';
import type { InstancePlugin } from '../../src/spi/instance.ts';
import { NotFoundError } from '../../src/vsphere/errors.ts';
import { FakePlugin, sleep } from './fake-plugin.ts';
import { HASH, startHarness } from './harness.ts';
import { call, get, postRaw } from './rpc-client.ts';

const goldenDir = join(import.meta.dirname, 'golden');

interface Golden {
  description: string;
  request?: unknown;
  requestText?: string;
  response?: unknown;
  responseText?: string;
  calls?: { plugin: '' | 'compute'; method: string; args: unknown[] }[];
}

describe('golden request/response pairs', () => {
  const files = readdirSync(goldenDir)
    .filter((file) => file.endsWith('.json'))
    .sort();

  it('cover every method, the three handshake calls and the error cases', () => {
    const methods = new Set<string>();
    for (const file of files) {
      const golden = JSON.parse(readFileSync(join(goldenDir, file), 'utf8')) as Golden;
      const text = golden.requestText ?? JSON.stringify(golden.request);
      const method = /"method":"([^"]+)"/.exec(text)?.[1];
      if (method !== undefined) methods.add(method);
    }
    for (const method of [
      'Handshake.Implements',
      'Handshake.Types',
      'Handshake.Hello',
      'Instance.Validate',
      'Instance.Provision',
      'Instance.Label',
      'Instance.Destroy',
      'Instance.DescribeInstances',
    ]) {
      assert.ok(methods.has(method), `no golden file calls ${method}`);
    }
    assert.ok(files.length >= 20, `only ${files.length} golden files`);
  });

  for (const file of files) {
    const golden = JSON.parse(readFileSync(join(goldenDir, file), 'utf8')) as Golden;
    it(`${file}: ${golden.description}`, async () => {
      const harness = await startHarness();
      try {
        const body = golden.requestText ?? JSON.stringify(golden.request);
        const reply = await postRaw(harness, body);
        assert.equal(reply.status, 200);
        if (golden.responseText !== undefined) {
          assert.equal(reply.body, golden.responseText);
        } else if (golden.response === null) {
          assert.equal(reply.body, '');
          assert.equal(reply.headers['content-length'], '0');
        } else {
          assert.match(String(reply.headers['content-type']), /^application\/json/);
          assert.deepEqual(JSON.parse(reply.body), golden.response);
        }
        if (golden.calls !== undefined) {
          const calls = [
            ...harness.main.calls.map((c) => ({ plugin: '', method: c.method, args: c.args })),
            ...harness.compute.calls.map((c) => ({ plugin: 'compute', method: c.method, args: c.args })),
          ];
          // Compare as JSON: what the provider was given, exactly as a JSON document.
          assert.deepEqual(JSON.parse(JSON.stringify(calls)), golden.calls);
        }
      } finally {
        await harness.close();
      }
    });
  }
});

describe('JSON-RPC over the socket', () => {
  it('echoes ids verbatim: int63 beyond 2^53, exponent forms and escaped strings', async () => {
    const harness = await startHarness();
    try {
      for (const id of ['9223372036854775807', '1e3', '-0', '"\\u0041b\\n"']) {
        const ok = await postRaw(
          harness,
          `{"jsonrpc":"2.0","method":"Handshake.Implements","params":{},"id":${id}}`,
        );
        assert.ok(ok.body.endsWith(`,"id":${id}}`), ok.body);
        const failed = await postRaw(harness, `{"jsonrpc":"2.0","method":"Nope","id":${id}}`);
        assert.ok(failed.body.endsWith(`,"id":${id}}`), failed.body);
      }
    } finally {
      await harness.close();
    }
  });

  it('rejects an id that is an object or array with -32600 and id null', async () => {
    const harness = await startHarness();
    try {
      const reply = await postRaw(harness, '{"jsonrpc":"2.0","method":"Handshake.Implements","id":{"a":1}}');
      assert.deepEqual(JSON.parse(reply.body), {
        jsonrpc: '2.0',
        error: { code: -32600, message: 'invalid request: id must be a string, number or null', data: null },
        id: null,
      });
    } finally {
      await harness.close();
    }
  });

  it('gives a notification with an unknown method or bad params no body either', async () => {
    const harness = await startHarness();
    try {
      for (const body of [
        '{"jsonrpc":"2.0","method":"Instance.Nope","params":{}}',
        '{"jsonrpc":"2.0","method":"Instance.Provision","params":{"Spec":3}}',
        '{"jsonrpc":"2.0","method":"Instance.Validate","params":"x"}',
      ]) {
        const reply = await postRaw(harness, body);
        assert.equal(reply.status, 200);
        assert.equal(reply.body, '');
      }
      assert.equal(harness.main.calls.length, 0);
    } finally {
      await harness.close();
    }
  });

  it('matches member names case-insensitively, as Go does', async () => {
    const harness = await startHarness();
    try {
      const { reply } = await call(harness, 'Instance.Destroy', {
        type: 'compute',
        instance: 'compute-9',
        context: { reason: 'rolling_update' },
      });
      assert.deepEqual(reply.result, { Type: 'compute', OK: true });
      assert.deepEqual(harness.compute.calls[0]?.args, ['compute-9', { Reason: 'rolling_update' }]);
    } finally {
      await harness.close();
    }
  });

  it('reports application errors of the provider as -32000 with their message and data null', async () => {
    const harness = await startHarness();
    try {
      const { status, reply } = await call(
        harness,
        'Instance.Label',
        { Type: '', Instance: 'vm-404', Labels: {} },
        41,
      );
      assert.equal(status, 200);
      assert.deepEqual(reply, {
        jsonrpc: '2.0',
        error: { code: -32000, message: 'instance vm-404 not found', data: null },
        id: 41,
      });
    } finally {
      await harness.close();
    }
  });

  it('puts every ValidationError issue into the message even when the message omits some', async () => {
    const harness = await startHarness();
    harness.main.onValidate = async () => {
      const error = new ValidationError([{ field: 'Properties.Hostname', message: 'required' }]);
      Object.defineProperty(error, 'message', { value: 'bad properties' });
      throw error;
    };
    try {
      const { reply } = await call(harness, 'Instance.Validate', { Type: '', Properties: {} });
      assert.equal(reply.error?.message, 'bad properties; Properties.Hostname: required');
      assert.equal(reply.error?.data, null);
    } finally {
      await harness.close();
    }
  });

  it('answers a provider that throws synchronously or rejects with a non-Error', async () => {
    const harness = await startHarness();
    harness.main.onValidate = () => {
      throw new TypeError('boom');
    };
    harness.main.onDescribe = () => Promise.reject('plain string');
    try {
      const validate = await call(harness, 'Instance.Validate', { Type: '', Properties: {} });
      assert.equal(validate.reply.error?.message, 'boom');
      const described = await call(harness, 'Instance.DescribeInstances', { Type: '', Tags: {} });
      assert.equal(described.reply.error?.message, 'plain string');
    } finally {
      await harness.close();
    }
  });

  it('returns [] when the provider describes nothing as null, and an error for a non-array', async () => {
    const harness = await startHarness();
    try {
      harness.main.onDescribe = async () => null as unknown as [];
      const empty = await call(harness, 'Instance.DescribeInstances', { Type: '', Tags: {} });
      assert.deepEqual(empty.reply.result, { Type: '', Descriptions: [] });
      harness.main.onDescribe = async () => ({}) as unknown as [];
      const broken = await call(harness, 'Instance.DescribeInstances', { Type: '', Tags: {} });
      assert.equal(broken.reply.error?.message, 'describe did not return an array');
    } finally {
      await harness.close();
    }
  });
});

describe('type selection', () => {
  it('reaches a single plugin through the default type and a full name "plugin/subtype"', async () => {
    const only = new FakePlugin({ idPrefix: 'only' });
    const server = new PluginServer({ plugins: { compute: only }, logger: () => {} });
    const provision = await server.handle(
      JSON.stringify({ jsonrpc: '2.0', method: 'Instance.Provision', params: { Type: '', Spec: {} }, id: 1 }),
    );
    assert.deepEqual(JSON.parse(provision ?? ''), {
      jsonrpc: '2.0',
      result: { Type: '', ID: 'only-123' },
      id: 1,
    });
    const named = await server.handle(
      JSON.stringify({
        jsonrpc: '2.0',
        method: 'Instance.Provision',
        params: { Type: 'instance-vsphere/compute', Spec: {} },
        id: 2,
      }),
    );
    assert.deepEqual(JSON.parse(named ?? '').result, { Type: 'instance-vsphere/compute', ID: 'only-124' });
    const types = await server.handle('{"jsonrpc":"2.0","method":"Handshake.Types","id":3}');
    assert.deepEqual(JSON.parse(types ?? '').result, { Types: { 'Instance/0.6.0': ['compute'] } });
  });

  it('accepts "." as the key of the default plugin and lists "." first', async () => {
    const server = new PluginServer({
      plugins: { zeta: new FakePlugin(), '.': new FakePlugin(), alpha: new FakePlugin() },
      logger: () => {},
    });
    assert.deepEqual(server.types, ['.', 'alpha', 'zeta']);
    const hello = await server.handle('{"jsonrpc":"2.0","method":"Handshake.Hello","params":{},"id":1}');
    assert.deepEqual(JSON.parse(hello ?? '').result.Objects['Instance/0.6.1'], [
      { Name: '.', ProxyFor: '' },
      { Name: 'alpha', ProxyFor: '' },
      { Name: 'zeta', ProxyFor: '' },
    ]);
  });

  it('answers no-plugin:<type> for "" when there is no default and several subtypes', async () => {
    const server = new PluginServer({
      plugins: { a: new FakePlugin(), b: new FakePlugin() },
      logger: () => {},
    });
    const reply = await server.handle(
      '{"jsonrpc":"2.0","method":"Instance.Validate","params":{"Type":"","Properties":{}},"id":1}',
    );
    assert.equal(JSON.parse(reply ?? '').error.message, 'no-plugin:');
  });
});

describe('HTTP endpoints', () => {
  it('serves /info/api.json with vendor, implements and a request/response example per method', async () => {
    const harness = await startHarness({
      vendor: { Name: 'acme', Version: '1.2.3', URL: 'https://acme.example' },
    });
    try {
      const reply = await get(harness, '/info/api.json');
      assert.equal(reply.status, 200);
      const info = JSON.parse(reply.body);
      assert.deepEqual(info.Vendor, { Name: 'acme', Version: '1.2.3', URL: 'https://acme.example' });
      assert.deepEqual(info.Implements, [{ Name: 'Instance', Version: '0.6.0' }]);
      assert.equal(info.Interfaces[0].Name, 'Instance');
      const methods = info.Interfaces[0].Methods.map(
        (m: { Request: { method: string } }) => m.Request.method,
      );
      assert.deepEqual(methods, [
        'Instance.Validate',
        'Instance.Provision',
        'Instance.Label',
        'Instance.Destroy',
        'Instance.DescribeInstances',
      ]);
      for (const method of info.Interfaces[0].Methods) {
        assert.equal(method.Request.jsonrpc, '2.0');
        assert.equal(method.Response.id, method.Request.id);
        assert.equal(method.Response.result.Type, '');
      }
    } finally {
      await harness.close();
    }
  });

  it('serves /info/functions.json, refuses GET / and answers 404 elsewhere', async () => {
    const harness = await startHarness();
    try {
      const functions = await get(harness, '/info/functions.json');
      assert.deepEqual(JSON.parse(functions.body), { base: [], builtin: [] });
      const root = await get(harness, '/');
      assert.equal(root.status, 405);
      assert.equal(root.headers.allow, 'POST');
      assert.equal((await get(harness, '/info/api')).status, 404);
      assert.equal((await postRaw(harness, '{}', { path: '/rpc' })).status, 404);
    } finally {
      await harness.close();
    }
  });

  it('listens on loopback TCP too, and refuses other hosts', async () => {
    const server = new PluginServer({ plugins: { '': new FakePlugin() }, logger: () => {} });
    await assert.rejects(
      server.listen({ host: '0.0.0.0' as '127.0.0.1', port: 0 }),
      (error: unknown) => error instanceof VSphereError && error.code === 'INVALID_OPTION',
    );
    await server.listen({ host: '127.0.0.1', port: 0 });
    try {
      const address = server.address();
      assert.ok(typeof address === 'object' && address !== null);
      const body = await new Promise<string>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: address.port, method: 'POST', path: '/', agent: false },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              text += chunk;
            });
            res.on('end', () => resolve(text));
          },
        );
        req.on('error', reject);
        req.end('{"jsonrpc":"2.0","method":"Handshake.Implements","id":1}');
      });
      assert.deepEqual(JSON.parse(body).result, { APIs: [{ Name: 'Instance', Version: '0.6.0' }] });
    } finally {
      await server.close();
    }
  });
});

describe('input hardening', () => {
  it('answers a body over maxBodyBytes with HTTP 200 and -32600, and keeps serving', async () => {
    const harness = await startHarness({ maxBodyBytes: 1024 });
    try {
      const huge = JSON.stringify({
        jsonrpc: '2.0',
        method: 'Instance.Validate',
        params: { Type: '', Properties: { blob: 'x'.repeat(4000) } },
        id: 1,
      });
      const reply = await postRaw(harness, huge);
      assert.equal(reply.status, 200);
      assert.deepEqual(JSON.parse(reply.body), {
        jsonrpc: '2.0',
        error: { code: -32600, message: 'invalid request: body larger than 1024 bytes', data: null },
        id: null,
      });
      assert.equal(harness.main.calls.length, 0);
      const next = await call(harness, 'Handshake.Implements', {});
      assert.deepEqual(next.reply.result, { APIs: [{ Name: 'Instance', Version: '0.6.0' }] });
    } finally {
      await harness.close();
    }
  });

  it('counts the bytes of a chunked body without Content-Length', async () => {
    const harness = await startHarness({ maxBodyBytes: 1024 });
    try {
      const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          { socketPath: harness.socketPath, method: 'POST', path: '/', agent: false },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              text += chunk;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          },
        );
        req.on('error', reject);
        for (let i = 0; i < 8; i++) req.write('x'.repeat(300));
        req.end();
      });
      assert.equal(reply.status, 200);
      assert.equal(JSON.parse(reply.body).error.code, -32600);
    } finally {
      await harness.close();
    }
  });

  it('cuts a runaway body off instead of reading it to the end', async () => {
    const harness = await startHarness({ maxBodyBytes: 1024 });
    try {
      const closed = await new Promise<string>((resolve) => {
        const socket = connect({ path: harness.socketPath });
        let answer = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => {
          answer += chunk;
        });
        socket.on('error', () => {});
        socket.on('close', () => resolve(answer));
        socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n');
        const chunk = 'x'.repeat(64 * 1024);
        const pump = (): void => {
          while (!socket.destroyed && socket.write(chunk)) {
            /* fill the buffer */
          }
          if (!socket.destroyed) socket.once('drain', pump);
        };
        pump();
      });
      assert.match(closed, /^HTTP\/1\.1 200/);
      assert.match(closed, /body larger than 1024 bytes/);
      const next = await call(harness, 'Handshake.Implements', {});
      assert.equal(next.status, 200);
    } finally {
      await harness.close();
    }
  });

  it('survives a client that disconnects mid-body, and answers the next request', async () => {
    const harness = await startHarness();
    try {
      await new Promise<void>((resolve) => {
        const socket = connect({ path: harness.socketPath }, () => {
          socket.write(
            'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n',
          );
          socket.write('{"jsonrpc":"2.0","method":"Instance.Provision","params":{"Type":"","Spec":{');
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, 50);
        });
      });
      await sleep(50);
      const next = await call(harness, 'Instance.DescribeInstances', {
        Type: '',
        Tags: { 'infrakit.group': 'x' },
      });
      assert.deepEqual(next.reply.result, { Type: '', Descriptions: [] });
      assert.equal(harness.main.calls.filter((c) => c.method === 'provision').length, 0);
      assert.ok(
        harness.logs.some((line) => line.includes('client went away before sending its whole request')),
      );
    } finally {
      await harness.close();
    }
  });

  it('survives a client that disconnects while the provider works', async () => {
    const harness = await startHarness();
    let describing!: () => void;
    const started = new Promise<void>((resolve) => {
      describing = resolve;
    });
    harness.main.onDescribe = async () => {
      describing();
      await sleep(150);
      return [];
    };
    try {
      const socket = connect({ path: harness.socketPath });
      socket.on('error', () => {});
      const body =
        '{"jsonrpc":"2.0","method":"Instance.DescribeInstances","params":{"Type":"","Tags":{}},"id":1}';
      socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      await started;
      socket.destroy();
      await sleep(250);
      harness.main.onDescribe = undefined;
      const next = await call(harness, 'Handshake.Implements', {});
      assert.equal(next.status, 200);
      assert.ok(harness.logs.some((line) => line.includes('client went away before its answer')));
    } finally {
      await harness.close();
    }
  });

  it('cuts off a client whose headers do not arrive within headersTimeoutMs', async () => {
    const harness = await startHarness({ headersTimeoutMs: 200, requestTimeoutMs: 400 });
    try {
      const started = Date.now();
      const answer = await new Promise<string>((resolve) => {
        const socket = connect({ path: harness.socketPath }, () =>
          socket.write('POST / HTTP/1.1\r\nHost: x\r\n'),
        );
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => {
          text += chunk;
        });
        socket.on('error', () => {});
        socket.on('close', () => resolve(text));
      });
      assert.ok(Date.now() - started < 3000, 'the slow client was not cut off');
      assert.match(answer, /^HTTP\/1\.1 408/);
    } finally {
      await harness.close();
    }
  });

  it('never logs request bodies: properties stay out of the log, method/type/id/duration go in', async () => {
    const harness = await startHarness();
    try {
      await call(
        harness,
        'Instance.Provision',
        { Type: 'compute', Spec: { Properties: { vCenterURL: 'https://root:hunter2@vc/sdk' }, Tags: {} } },
        77,
      );
      await postRaw(harness, '{"jsonrpc":"2.0","method":"Instance.Validate","params":{"Password":"hunter2"');
      await call(harness, 'Instance.Validate', { Type: 3, Properties: { Password: 'hunter2' } }, 78);
      const log = harness.logs.join('\n');
      assert.doesNotMatch(log, /hunter2/);
      assert.match(log, /Instance\.Provision type=compute id=77 \d+ms ok/);
      assert.match(log, /Instance\.Validate type= id=78 \d+ms failed code=JSONRPC_INVALID_PARAMS rpc=-32602/);
      assert.match(log, /rejected request id=null code=JSONRPC_PARSE_ERROR rpc=-32700/);
    } finally {
      await harness.close();
    }
  });

  it('keeps answering when the logger itself throws', async () => {
    const server = new PluginServer({
      plugins: { '': new FakePlugin() },
      logger: () => {
        throw new Error('disk full');
      },
    });
    const reply = await server.handle('{"jsonrpc":"2.0","method":"Handshake.Implements","id":1}');
    assert.deepEqual(JSON.parse(reply ?? '').result, { APIs: [{ Name: 'Instance', Version: '0.6.0' }] });
  });

  it('validates its options at construction, naming the option', () => {
    const plugin = new FakePlugin();
    const cases: [unknown, RegExp][] = [
      [{ plugins: {} }, /plugins: expected at least one plugin/],
      [{ plugins: { '': {} } }, /plugins\[""\]: expected an InstancePlugin/],
      [{ plugins: { 'a/b': plugin } }, /plugins\["a\/b"\]: expected a subtype name without "\/"/],
      [{ plugins: { '': plugin, '.': plugin } }, /one default plugin/],
      [{ plugins: { '': plugin }, maxBodyBytes: 0 }, /maxBodyBytes: expected a positive integer/],
      [{ plugins: { '': plugin }, answerWithinMs: -1 }, /answerWithinMs/],
    ];
    for (const [options, message] of cases) {
      assert.throws(
        () => new PluginServer(options as { plugins: Record<string, InstancePlugin> }),
        (error: unknown) =>
          error instanceof VSphereError && error.code === 'INVALID_OPTION' && message.test(error.message),
      );
    }
  });
});

describe('concurrency and timing', () => {
  it('serves 50 concurrent requests concurrently', async () => {
    const harness = await startHarness();
    harness.main.onDescribe = async (tags) => {
      await sleep(200);
      return [{ ID: tags.n ?? '?', Tags: { ...tags } }];
    };
    try {
      const started = Date.now();
      const replies = await Promise.all(
        Array.from({ length: 50 }, (_, n) =>
          call(harness, 'Instance.DescribeInstances', { Type: '', Tags: { n: String(n) } }, `c-${n}`),
        ),
      );
      const elapsed = Date.now() - started;
      // Serially this would take 50 x 200 ms = 10 s.
      assert.ok(elapsed < 4000, `50 requests took ${elapsed} ms`);
      replies.forEach(({ reply }, n) => {
        assert.equal(reply.id, `c-${n}`);
        assert.deepEqual(reply.result, {
          Type: '',
          Descriptions: [{ ID: String(n), Tags: { n: String(n) } }],
        });
      });
    } finally {
      await harness.close();
    }
  });

  it('answers Provision at once while the provider work is still running (wait: false)', async () => {
    const harness = await startHarness({ main: { provisionWorkMs: 1500 } });
    try {
      const started = Date.now();
      const { reply } = await call(harness, 'Instance.Provision', {
        Type: '',
        Spec: { Properties: { Datastore: 'ds' }, Tags: { 'infrakit.group': 'workers' } },
      });
      const elapsed = Date.now() - started;
      assert.deepEqual(reply.result, { Type: '', ID: 'vm-123' });
      assert.ok(elapsed < 500, `Provision took ${elapsed} ms`);
      assert.ok(harness.main.pending.has('vm-123'), 'the slow work should still be running');
      assert.deepEqual(harness.main.calls[0]?.args[1], { wait: false });
    } finally {
      await harness.close();
    }
  });

  it('answers a Destroy slower than answerWithinMs with OK and reports its later failure', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    const harness = await startHarness({ answerWithinMs: 100 });
    harness.main.onDestroy = async () => {
      await sleep(1000);
      throw new VSphereError('VIM_FAULT', 'vCenter refused: VM is locked');
    };
    try {
      const started = Date.now();
      const { reply } = await call(harness, 'Instance.Destroy', {
        Type: '',
        Instance: 'vm-1',
        Context: { Reason: 'terminate' },
      });
      const elapsed = Date.now() - started;
      assert.deepEqual(reply.result, { Type: '', OK: true });
      assert.ok(elapsed >= 90 && elapsed < 900, `answered after ${elapsed} ms`);
      assert.equal(harness.backgroundFailures.length, 0);
      await harness.server.settled();
      assert.equal(harness.backgroundFailures.length, 1);
      const [failure] = harness.backgroundFailures;
      assert.equal(failure?.method, 'Instance.Destroy');
      assert.equal(failure?.instance, 'vm-1');
      assert.ok(failure?.error instanceof VSphereError && failure.error.code === 'VIM_FAULT');
      await sleep(20);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await harness.close();
    }
  });

  it('logs a late Destroy failure through the logger when no hook is given', async () => {
    const lines: string[] = [];
    const plugin = new FakePlugin();
    plugin.onDestroy = async () => {
      await sleep(80);
      throw new Error('task failed');
    };
    const server = new PluginServer({
      plugins: { '': plugin },
      answerWithinMs: 10,
      logger: (formatter, ...args) => lines.push([formatter, ...args].join(' ')),
    });
    const reply = await server.handle(
      '{"jsonrpc":"2.0","method":"Instance.Destroy","params":{"Type":"","Instance":"vm-7"},"id":1}',
    );
    assert.deepEqual(JSON.parse(reply ?? '').result, { Type: '', OK: true });
    await server.settled();
    assert.ok(lines.some((line) => line.includes('failed in background') && line.includes('task failed')));
  });

  it('answers OK to a Destroy of an instance already gone, and an error for anything else', async () => {
    const lines: string[] = [];
    const plugin = new FakePlugin();
    const server = new PluginServer({
      plugins: { '': plugin },
      answerWithinMs: 10,
      logger: (formatter, ...args) => lines.push([formatter, ...args].join(' ')),
    });
    const destroy = async (error: Error, delayMs: number) => {
      plugin.onDestroy = async () => {
        await sleep(delayMs);
        throw error;
      };
      const reply = await server.handle(
        '{"jsonrpc":"2.0","method":"Instance.Destroy","params":{"Type":"","Instance":"vm-7"},"id":1}',
      );
      await server.settled();
      return JSON.parse(reply ?? '') as { result?: unknown; error?: { message: string } };
    };
    const failures: string[] = [];
    for (const delayMs of [0, 60]) {
      // Gone: answered OK whether within the window or after it, and never a background failure.
      const gone = await destroy(new NotFoundError('vm', 'vm-7', 'vCenter', { field: 'Instance' }), delayMs);
      assert.deepEqual(gone.result, { Type: '', OK: true });
      // Not managed, or some other missing thing: an error (in the background when late).
      for (const error of [
        new InstanceNotManagedError('vm-7', ['vm-42']),
        new NotFoundError('datacenter', 'DC9', 'vCenter'),
      ]) {
        const reply = await destroy(error, delayMs);
        if (delayMs === 0) assert.equal(reply.error?.message, error.message);
        else failures.push(error.message);
      }
    }
    assert.ok(lines.some((line) => line.includes('already gone')));
    for (const message of failures)
      assert.ok(lines.some((line) => line.includes('failed in background') && line.includes(message)));
    assert.ok(
      !lines.some((line) => line.includes('failed in background') && line.includes('"vm-7" not found')),
    );
  });

  it('answers a Destroy failing within answerWithinMs with its error', async () => {
    const harness = await startHarness({ answerWithinMs: 500 });
    harness.main.onDestroy = async () => {
      await sleep(20);
      throw new VSphereError('VIM_FAULT', 'vCenter refused: permission denied');
    };
    try {
      const { reply } = await call(harness, 'Instance.Destroy', { Type: '', Instance: 'vm-1' });
      assert.deepEqual(reply.error, {
        code: -32000,
        message: 'vCenter refused: permission denied',
        data: null,
      });
      await harness.server.settled();
      assert.equal(harness.backgroundFailures.length, 0);
    } finally {
      await harness.close();
    }
  });

  it('lets a slow Destroy that succeeds finish in the background, and close() waits for it', async () => {
    const harness = await startHarness({ answerWithinMs: 50 });
    let finished = false;
    harness.main.onDestroy = async () => {
      await sleep(200);
      finished = true;
    };
    try {
      const { reply } = await call(harness, 'Instance.Destroy', { Type: '', Instance: 'vm-1' });
      assert.deepEqual(reply.result, { Type: '', OK: true });
      assert.equal(finished, false);
    } finally {
      await harness.close();
    }
    assert.equal(finished, true);
    assert.ok(harness.logs.some((line) => line.includes('finished in background')));
    assert.equal(harness.backgroundFailures.length, 0);
  });
});

describe('close() within one grace', () => {
  it('the time requests in progress take comes out of what background work may still take', async () => {
    const harness = await startHarness({ answerWithinMs: 50 });
    harness.main.onDestroy = () => sleep(5000);
    harness.main.onDescribe = async () => {
      await sleep(700);
      return [];
    };
    try {
      await call(harness, 'Instance.Destroy', { Type: '', Instance: 'vm-1' }); // answered, goes on
      const describing = call(harness, 'Instance.DescribeInstances', { Type: '', Tags: {} });
      await sleep(50);
      const started = performance.now();
      await Promise.all([harness.server.close({ graceMs: 1000 }), describing]);
      const took = performance.now() - started;
      // Twice the grace (1 s for the request, 1 s more for the background) was the old bound.
      assert.ok(took >= 900 && took < 1500, `close() took ${Math.round(took)} ms for a 1000 ms grace`);
      assert.ok(harness.logs.some((line) => line.includes('background operation(s) still running')));
    } finally {
      await harness.close();
    }
  });
});

describe('config-hash spelling', () => {
  it('answers each generation under the spelling it queries with', async () => {
    const harness = await startHarness();
    try {
      const legacyQuery = await call(harness, 'Instance.DescribeInstances', {
        Type: '',
        Tags: { 'infrakit.group': 'workers', 'infrakit.config_sha': HASH.current },
      });
      const result = legacyQuery.reply.result as {
        Descriptions: { ID: string; Tags: Record<string, string> }[];
      };
      assert.deepEqual(
        result.Descriptions.map((d) => [d.ID, d.Tags['infrakit.config_sha']]),
        [['vm-2', HASH.current]],
      );
    } finally {
      await harness.close();
    }
  });

  it('keeps provisioned tags as given (the provider stores whatever it is given)', async () => {
    const harness = await startHarness();
    try {
      await call(harness, 'Instance.Provision', {
        Type: '',
        Spec: { Tags: { 'infrakit.group': 'g', 'infrakit.config_sha': 'abc' } },
      });
      assert.deepEqual(harness.main.instances.get('vm-123')?.Tags, {
        'infrakit.group': 'g',
        'infrakit.config_sha': 'abc',
      });
    } finally {
      await harness.close();
    }
  });
});

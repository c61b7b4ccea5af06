/**
 * Keeps README.md and docs/ true to the code: every TypeScript example of the user-facing documents
 * type-checks against the library's sources through the entry point it imports, every function
 * they call is exported (or a method), properties.md's examples are what `parseProperties` gives,
 * the error tables document every `VSphereErrorCode` with the class that really has it, the
 * environment variables and debug namespaces listed are exactly what exists, and every link,
 * anchor, `src/` or `test/` path and test file named points at something that exists. No vCenter
 * is needed.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import ts from 'typescript';
import * as lib from '../../src/index.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The documents written for a user of the npm package, whose TypeScript examples must compile. */
const USER_DOCS = [
  'README.md',
  'docs/provider.md',
  'docs/vcenter.md',
  'docs/errors.md',
  'docs/testing.md',
  'docs/infrakit.md',
  'docs/properties.md',
  'docs/cli.md',
  'docs/annotation.md',
] as const;
/**
 * Every document checked for links and paths. docs/architecture.md, for contributors, is left out:
 * it describes the layout as it is being reorganised.
 */
const ALL_DOCS = [...USER_DOCS, 'docs/performance.md', 'docs/reliability.md', 'docs/vim25-codec.md'] as const;
/** Paths in examples that stand for the reader's own project, not this one. */
const READER_PATHS = new Set(['test/pool.integration.test.ts', 'src/pool.js']);
const read = (file: string) => readFileSync(join(root, file), 'utf8');

/** Every file under src/, recursively, with its text. */
function sources(dir = join(root, 'src')): { path: string; text: string }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [{ path, text: readFileSync(path, 'utf8') }] : [];
  });
}

/** The `## title` section of a markdown document, up to the next `## `. */
function section(markdown: string, title: string): string {
  const start = markdown.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `section "${title}" exists`);
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

interface Example {
  doc: string;
  /** 1-based line of the first code line in the document. */
  line: number;
  code: string;
}

function examples(doc: string): Example[] {
  const text = read(doc);
  const out: Example[] = [];
  for (const match of text.matchAll(/^```ts\n([\s\S]*?)^```/gm)) {
    const line = text.slice(0, match.index).split('\n').length + 1;
    out.push({ doc, line, code: match[1] ?? '' });
  }
  return out;
}

describe('docs examples', () => {
  it('type-check against the sources', () => {
    const all = USER_DOCS.flatMap(examples);
    assert.ok(all.length >= 20, `found ${all.length} examples`);
    const dir = mkdtempSync(join(tmpdir(), 'docs-examples-'));
    try {
      const index = join(root, 'src', 'index.ts');
      const blocks = join(root, 'src', 'blocks.ts');
      const testing = join(root, 'src', 'testing', 'index.ts');
      const files = new Map<string, { example: Example; prelude: number }>();
      all.forEach((example, n) => {
        // Examples that use a provider without making one get it declared, nothing else.
        const undeclared = ['provider', 'otherProvider'].filter(
          (name) =>
            new RegExp(`\\b${name}\\b`).test(example.code) &&
            !new RegExp(`\\b(const|let)\\s+${name}\\b`).test(example.code),
        );
        const prelude =
          undeclared.length > 0
            ? `import type { VSphereInstanceProvider as DocsProvider } from '${index}';\n${undeclared
                .map((name) => `declare const ${name}: DocsProvider;\n`)
                .join('')}`
            : '';
        const code = example.code
          .replaceAll("from 'infrakit-instance-vsphere'", `from '${index}'`)
          .replaceAll("from 'infrakit-instance-vsphere/vsphere'", `from '${blocks}'`)
          .replaceAll("from 'infrakit-instance-vsphere/testing'", `from '${testing}'`)
          // The reader's own modules: a stand-in that accepts any use.
          .replace(
            /^import \{ (\w+) \} from '\.[^']*';.*$/gm,
            '// biome-ignore lint: stand-in\ndeclare const $1: any;',
          );
        const file = join(dir, `example-${n}.mts`);
        writeFileSync(file, `${prelude}${code}\nexport {};\n`);
        files.set(file, { example, prelude: prelude.split('\n').length - 1 });
      });
      const config = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile);
      const { options } = ts.convertCompilerOptionsFromJson(config.config.compilerOptions, root);
      const program = ts.createProgram([...files.keys()], {
        ...options,
        noEmit: true,
        typeRoots: [join(root, 'node_modules', '@types')],
      });
      const problems = ts
        .getPreEmitDiagnostics(program)
        .filter((d) => d.file && files.has(d.file.fileName))
        .map((d) => {
          const { example, prelude } = files.get(d.file!.fileName)!;
          const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
          const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
          return `${example.doc}:${example.line + line - prelude}: ${message}`;
        });
      assert.deepEqual(problems, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The string literals of the exported `VSphereErrorCode` union, read from its declaration. */
function declaredErrorCodes(): string[] {
  const file = ts.createSourceFile('errors.ts', read('src/errors.ts'), ts.ScriptTarget.Latest, true);
  const alias = file.statements.find(
    (s): s is ts.TypeAliasDeclaration => ts.isTypeAliasDeclaration(s) && s.name.text === 'VSphereErrorCode',
  );
  assert.ok(alias && ts.isUnionTypeNode(alias.type), 'VSphereErrorCode is a union');
  return alias.type.types.map((member) => {
    assert.ok(ts.isLiteralTypeNode(member) && ts.isStringLiteral(member.literal), 'a string literal');
    return member.literal.text;
  });
}

describe('docs/errors.md', () => {
  const doc = read('docs/errors.md');
  /** Table rows whose first cell names codes: the codes, and the class named in the second cell. */
  const rows = [...doc.matchAll(/^\| (`[A-Z0-9_]+`[^|]*)\|([^|]*)\|/gm)].map((m) => ({
    codes: [...m[1]!.matchAll(/`([A-Z0-9_]+)`/g)].map((c) => c[1]!),
    className: /^ `(\w+)` $/.exec(m[2]!)?.[1],
  }));

  it('documents every code of VSphereErrorCode, once, and no other', () => {
    const documented = rows.flatMap((r) => r.codes);
    assert.deepEqual([...documented].sort(), [...new Set(documented)].sort(), 'no code twice');
    assert.deepEqual([...documented].sort(), declaredErrorCodes().sort());
  });

  it('names, for each code, the exported class that really has it', () => {
    const fault = new lib.VimFault('InvalidLogin', { _type: 'InvalidLogin' }, '');
    const task = new lib.ManagedObjectReference('Task', 'task-1');
    const made: Record<string, lib.VSphereError[]> = {
      ValidationError: [new lib.ValidationError([{ field: 'f', message: 'm' }])],
      NotFoundError: [new lib.NotFoundError('vm', 'x', 'vCenter')],
      AmbiguousNameError: [new lib.AmbiguousNameError('vm', 'x', 'vCenter', ['a', 'b'])],
      VimFault: [fault],
      TaskFailedError: [new lib.TaskFailedError(task, 'clone', fault)],
      TaskOutcomeUnknownError: [new lib.TaskOutcomeUnknownError(task, 'clone')],
      VerificationError: [new lib.VerificationError('annotation', 'vm-1')],
      TlsError: [new lib.TlsError('TLS_UNTRUSTED', 'm'), new lib.TlsError('TLS_THUMBPRINT_MISMATCH', 'm')],
      TransportError: [new lib.TransportError('m')],
      HttpStatusError: [new lib.HttpStatusError(503, 'm')],
      TimeoutError: [new lib.TimeoutError('m', 1)],
      AbortError: [new lib.AbortError('m')],
      LoginError: [new lib.LoginError('user', fault)],
      SessionClosedError: [new lib.SessionClosedError()],
      FileExistsError: [new lib.FileExistsError('[ds] a.iso')],
      AnnotationError: [new lib.AnnotationError('m', 'tags', 2, 1)],
      GuestShutdownError: [new lib.GuestShutdownError('vm-1', 'timeout', 'm')],
      ObjectGoneError: [new lib.ObjectGoneError(task, 'a wait')],
      InstanceNotManagedError: [new lib.InstanceNotManagedError('vm-1', ['vm-42'])],
      UploadSizeMismatchError: [new lib.UploadSizeMismatchError('[ds] a.iso', 2, 1)],
    };
    // The codec's classes are not exported: the next test checks what the tables say of them.
    const internal = new Set(['VSphereError', 'EncodeError', 'InvalidXmlCharacterError', 'DecodeError']);
    const classes = rows.filter((r) => r.className !== undefined && !internal.has(r.className));
    for (const row of classes) {
      const name = row.className!;
      assert.equal(typeof (lib as Record<string, unknown>)[name], 'function', `${name} is exported`);
      const errors = made[name];
      assert.ok(errors, `the test makes a ${name}`);
      for (const code of row.codes)
        assert.ok(
          errors.some((e) => e.code === code && e instanceof lib.VSphereError),
          `${name} has code ${code}`,
        );
    }
    assert.deepEqual(
      [...new Set(classes.map((r) => r.className))].sort(),
      Object.keys(made).sort(),
      'every exported error class is in the tables',
    );
  });

  it('is right about the errors it says are not exported', () => {
    const text = section(doc, 'The vim25 codec');
    assert.match(doc, /another tool wrote is\s+never touched/);
    const codec = read('src/vim25/errors.ts');
    for (const [name, code] of [
      ['EncodeError', 'VIM25_ENCODE'],
      ['InvalidXmlCharacterError', 'VIM25_INVALID_XML_CHAR'],
      ['DecodeError', 'VIM25_DECODE'],
    ] as const) {
      assert.ok(text.includes(`\`${code}\``), `${code} is named`);
      assert.ok(codec.includes(`'${code}'`), `${code} exists`);
      assert.ok(!(name in lib), `${name} is not exported from the package root`);
    }
  });
});

describe('docs/provider.md', () => {
  const doc = read('docs/provider.md');

  it('lists exactly the environment variables the library reads', () => {
    const said = /reads exactly \w+ environment variables: ([^.]+)\./.exec(doc);
    assert.ok(said, 'the sentence is there');
    const documented = new Set([...said[1]!.matchAll(/`(VC[A-Z]+)`/g)].map((m) => m[1]!));
    const read = new Set(
      sources()
        .filter((s) => !/[/\\](plugin|cli|testing)[/\\]/.test(s.path))
        .flatMap((s) => [...s.text.matchAll(/\benv\.(VC[A-Z]+)/g)].map((m) => m[1]!)),
    );
    assert.deepEqual([...documented].sort(), [...read].sort());
  });

  it('lists exactly the debug namespaces of the sources', () => {
    const documented = new Set(
      [...section(doc, 'Logging').matchAll(/^\| `(infrakit:vsphere:[\w:]+)` \|/gm)].map((m) => m[1]!),
    );
    const used = new Set(
      sources().flatMap((s) => [...s.text.matchAll(/\blogger\('([^']+)'\)/g)].map((m) => m[1]!)),
    );
    assert.deepEqual([...documented].sort(), [...used].sort());
  });
});

describe('the user-facing docs', () => {
  it('call only functions that an entry point exports, or methods of what they return', async () => {
    const blocks = await import('../../src/blocks.ts');
    const testing = await import('../../src/testing/index.ts');
    const exported = new Set([...Object.keys(lib), ...Object.keys(blocks), ...Object.keys(testing)]);
    // Methods (of the provider, of a running vcsim, of a builder), callbacks and Node's own.
    const members = new Set([
      ...Object.getOwnPropertyNames(lib.VSphereInstanceProvider.prototype),
      ...['listVms', 'setGuestIp', 'startTools', 'stopTools', 'stop', 'ipFor', 'build'],
      ...['onBackgroundError', 'require'],
    ]);
    for (const doc of USER_DOCS) {
      const prose = read(doc).replace(/^```[\s\S]*?^```/gm, '');
      for (const match of prose.matchAll(/`([a-z]\w*)\(/g)) {
        const name = match[1]!;
        assert.ok(exported.has(name) || members.has(name), `${doc}: ${name}() is exported or a method`);
      }
    }
  });
});

describe('docs/properties.md', () => {
  const doc = read('docs/properties.md');
  const example = (body: string) => new RegExp(body.replaceAll(' ', '\\s*'), 'g');

  it('shows what parseProperties really gives for its examples', () => {
    const pairs = [...doc.matchAll(example('```json\n([^`]*)```\n gives\n ```js\n([^`]*)```'))];
    assert.ok(pairs.length >= 2, `found ${pairs.length} examples`);
    for (const [, json, js] of pairs) {
      // The documented object, evaluated apart and compared as plain data.
      const documented: unknown = JSON.parse(JSON.stringify(runInNewContext(`(${js})`)));
      assert.deepEqual({ ...lib.parseProperties(JSON.parse(json!)) }, documented);
    }
  });

  it('lists every field of VMProperties, and no other', () => {
    const fields = (file: string, name: string) => {
      const source = ts.createSourceFile(file, read(file), ts.ScriptTarget.Latest, true);
      const decl = source.statements.find(
        (s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === name,
      );
      assert.ok(decl, `${name} is in ${file}`);
      return decl.members.flatMap((m) => (m.name && ts.isIdentifier(m.name) ? [m.name.text] : []));
    };
    const declared = [
      ...fields('src/provider/properties.ts', 'VMProperties'),
      ...fields('src/provider/properties-network.ts', 'NetworkProperties'),
      ...fields('src/provider/properties-machine.ts', 'MachineProperties'),
    ];
    const sentence = /`VMProperties` field names: ([^.]+)\./.exec(doc);
    assert.ok(sentence, 'the sentence is there');
    const documented = [...sentence[1]!.matchAll(/`(\w+)`/g)].map((m) => m[1]!);
    assert.deepEqual([...documented].sort(), [...declared].sort());
  });

  it('shows the message parseProperties really throws for its example of errors', () => {
    const [, json, text] =
      example('Errors, all at once: ```json\n([^`]*)``` ```text\n([^`]*)```').exec(doc) ?? [];
    assert.ok(json && text, 'the example is there');
    assert.throws(
      () => lib.parseProperties(JSON.parse(json)),
      (error: Error) => error.message === text.trim().replaceAll('\n', ' '),
    );
  });
});

describe('docs/cli.md', () => {
  it('lists exactly the environment variables the CLI and the plugin server read', () => {
    const table = section(read('docs/cli.md'), 'Environment variables');
    const documented = new Set([...table.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!));
    const used = new Set(
      sources()
        .filter((s) => /[/\\](plugin|cli)[/\\]/.test(s.path))
        .flatMap((s) => [
          ...[...s.text.matchAll(/'((?:VC|GOVC_|INFRAKIT_)[A-Z_]+)'/g)].map((m) => m[1]!),
          ...[...s.text.matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!),
        ]),
    );
    assert.deepEqual([...documented].sort(), [...used].sort());
  });
});

describe('docs links', () => {
  /** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
  const slug = (heading: string) =>
    heading
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
  /** Headings outside code blocks, as anchors. */
  const anchors = (file: string) =>
    new Set(
      [
        ...read(file)
          .replace(/^```[\s\S]*?^```/gm, '')
          .matchAll(/^#{1,6} (.+)$/gm),
      ].map((m) => slug(m[1]!)),
    );

  it('point at files and headings that exist', () => {
    for (const doc of ALL_DOCS) {
      const text = read(doc);
      for (const match of text.matchAll(/\]\(([^)\s#]*)(?:#([^)\s]+))?\)/g)) {
        const [, target = '', anchor] = match;
        if (/^[a-z]+:/.test(target)) continue;
        const file = target === '' ? doc : join(dirname(doc), target);
        assert.ok(existsSync(join(root, file)), `${doc}: ${target} exists`);
        if (anchor !== undefined)
          assert.ok(anchors(file).has(anchor), `${doc}: ${target}#${anchor} is a heading`);
      }
    }
  });

  it('name src/ and test/ paths that exist', () => {
    for (const doc of ALL_DOCS) {
      for (const match of read(doc).matchAll(/(?<![\w./-])(?:\.\.\/)?((?:src|test)\/[\w./*-]*[\w*])/g)) {
        const path = match[1]!;
        if (READER_PATHS.has(path)) continue;
        // A glob names the directory it is in.
        const existing = path.includes('*') ? path.slice(0, path.lastIndexOf('/', path.indexOf('*'))) : path;
        assert.ok(existsSync(join(root, existing)), `${doc}: ${path} exists`);
      }
    }
  });

  it('name test files that exist', () => {
    const tests = new Set(
      (readdirSync(join(root, 'test'), { recursive: true }) as string[]).map((path) =>
        path.split(/[/\\]/).pop(),
      ),
    );
    for (const doc of ALL_DOCS) {
      for (const match of read(doc).matchAll(/(?<![\w./-])([\w-]+\.(?:test|soak)\.ts)\b/g)) {
        assert.ok(tests.has(match[1]), `${doc}: ${match[1]} is a file under test/`);
      }
    }
  });
});

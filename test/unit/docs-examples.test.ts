/**
 * Keeps docs/provider.md and docs/vcenter.md true to the code: every TypeScript example
 * type-checks against the library's sources, the error table names each class with the codes it
 * really has, and the environment variables, debug namespaces and cross-document links they
 * list are exactly what exists. No vCenter is needed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import * as lib from '../../src/index.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DOCS = ['provider.md', 'vcenter.md'] as const;
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
  const text = read(`docs/${doc}`);
  const out: Example[] = [];
  for (const match of text.matchAll(/^```ts\n([\s\S]*?)^```/gm)) {
    const line = text.slice(0, match.index).split('\n').length + 1;
    out.push({ doc, line, code: match[1] ?? '' });
  }
  return out;
}

describe('docs examples', () => {
  it('type-check against the sources', () => {
    const all = DOCS.flatMap(examples);
    assert.ok(all.length >= 15, `found ${all.length} examples`);
    const dir = mkdtempSync(join(tmpdir(), 'docs-examples-'));
    try {
      const index = join(root, 'src', 'index.ts');
      const files = new Map<string, { example: Example; prelude: number }>();
      all.forEach((example, n) => {
        // Examples that use a provider without making one get it declared, nothing else.
        const declaresProvider = /\b(const|let)\s+provider\b/.test(example.code);
        const prelude =
          /\bprovider\b/.test(example.code) && !declaresProvider
            ? `import type { VSphereInstanceProvider as DocsProvider } from '${index}';\ndeclare const provider: DocsProvider;\n`
            : '';
        const code = example.code.replaceAll("from 'infrakit-instance-vsphere'", `from '${index}'`);
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
          return `docs/${example.doc}:${example.line + line - prelude}: ${message}`;
        });
      assert.deepEqual(problems, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('docs/provider.md', () => {
  const doc = read('docs/provider.md');

  it('names every error class with the codes it really has', () => {
    const fault = new lib.VimFault('InvalidLogin', { _type: 'InvalidLogin' }, '');
    const task = new lib.ManagedObjectReference('Task', 'task-1');
    const codes: Record<string, string[]> = {
      ValidationError: [new lib.ValidationError([{ field: 'f', message: 'm' }]).code],
      NotFoundError: [new lib.NotFoundError('vm', 'x', 'vCenter').code],
      AmbiguousNameError: [new lib.AmbiguousNameError('vm', 'x', 'vCenter', ['a', 'b']).code],
      VimFault: [fault.code],
      TaskFailedError: [new lib.TaskFailedError(task, 'clone', fault).code],
      VerificationError: [new lib.VerificationError('annotation', 'vm-1').code],
      TlsError: [
        new lib.TlsError('TLS_UNTRUSTED', 'm').code,
        new lib.TlsError('TLS_THUMBPRINT_MISMATCH', 'm').code,
      ],
      TransportError: [new lib.TransportError('m').code],
      HttpStatusError: [new lib.HttpStatusError(503, 'm').code],
      TimeoutError: [new lib.TimeoutError('m', 1).code],
      AbortError: [new lib.AbortError('m').code],
      LoginError: [new lib.LoginError('user', fault).code],
      SessionClosedError: [new lib.SessionClosedError().code],
      FileExistsError: [new lib.FileExistsError('[ds] a.iso').code],
      AnnotationError: [new lib.AnnotationError('m', 'tags', 2, 1).code],
      InstanceNotManagedError: [new lib.InstanceNotManagedError('vm-1', ['vm-42']).code],
      UploadSizeMismatchError: [new lib.UploadSizeMismatchError('[ds] a.iso', 2, 1).code],
    };
    const rows = [...section(doc, 'Errors').matchAll(/^\| `(\w+)` \| ([^|]+) \|/gm)].map((m) => ({
      name: m[1]!,
      codes: [...m[2]!.matchAll(/`([A-Z0-9_]+)`/g)].map((c) => c[1]!),
    }));
    const source = sources()
      .map((s) => s.text)
      .join('\n');
    for (const row of rows) {
      const exported = (lib as Record<string, unknown>)[row.name];
      assert.equal(typeof exported, 'function', `${row.name} is exported`);
      if (row.name === 'VSphereError') {
        for (const code of row.codes) assert.ok(source.includes(`'${code}'`), `code ${code} is used in src`);
        continue;
      }
      assert.deepEqual(row.codes, codes[row.name], `codes of ${row.name}`);
    }
    assert.deepEqual(
      rows
        .map((r) => r.name)
        .filter((n) => n !== 'VSphereError')
        .sort(),
      Object.keys(codes).sort(),
      'every class is in the table once',
    );
  });

  it('is right about the errors it says are not exported', () => {
    const text = section(doc, 'Errors');
    assert.match(text, /another tool wrote is\s+never touched/);
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

  it('lists exactly the environment variables the library reads', () => {
    const said = /reads exactly \w+ environment variables: ([^.]+)\./.exec(doc);
    assert.ok(said, 'the sentence is there');
    const documented = new Set([...said[1]!.matchAll(/`(VC[A-Z]+)`/g)].map((m) => m[1]!));
    const read = new Set(
      sources()
        .filter((s) => !/[/\\](plugin|testing)[/\\]/.test(s.path))
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

describe('docs links', () => {
  /** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
  const slug = (heading: string) =>
    heading
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
  const anchors = (file: string) =>
    new Set([...read(`docs/${file}`).matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));

  it('point at headings that exist', () => {
    for (const doc of DOCS) {
      const text = read(`docs/${doc}`);
      for (const match of text.matchAll(/\]\(([\w.-]*\.md)?#([\w-]+)\)/g)) {
        const target = match[1] ?? doc;
        assert.ok(anchors(target).has(match[2]!), `docs/${doc}: ${target}#${match[2]} exists`);
      }
      for (const match of text.matchAll(/\]\(([\w.-]+\.md)\)/g)) {
        assert.doesNotThrow(() => read(`docs/${match[1]}`), `docs/${doc}: ${match[1]} exists`);
      }
    }
  });
});

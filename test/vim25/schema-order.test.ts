/**
 * Checks the generated schema against govmomi's `vim25/types/types.go` at the pinned version, with a
 * parser written independently of the generator's: real vCenter rejects elements out of schema order,
 * so every type's field order (and every method's parameter order) must be right.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateSchema, OUTPUT_PATH } from '../../scripts/generate-schema.ts';
import { isSubtypeOf, method, methodNames, typeInfo, typeNames } from '../../src/vim25/index.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));

/** The pinned govmomi's `vim25/types` directory, or a failure that says how to get it. */
function govmomiTypes(): { version: string; dir: string } {
  const goMod = readFileSync(join(repo, 'test/vcsim/launcher/go.mod'), 'utf8');
  const version = goMod.match(/^\s*(?:require\s+)?github\.com\/vmware\/govmomi\s+(v[\w.+-]+)/m)?.[1];
  assert.ok(version, 'test/vcsim/launcher/go.mod does not pin github.com/vmware/govmomi');
  const caches = [process.env.GOMODCACHE];
  try {
    caches.push(execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim());
  } catch {
    // No Go toolchain: the default cache locations below may still hold the module.
  }
  caches.push(join(process.env.GOPATH ?? join(homedir(), 'go'), 'pkg/mod'));
  for (const cache of caches) {
    const dir = cache ? join(cache, `github.com/vmware/govmomi@${version}/vim25/types`) : '';
    if (dir && existsSync(join(dir, 'types.go'))) return { version, dir };
  }
  assert.fail(
    `govmomi ${version} vim25/types/types.go is not in the Go module cache (looked in ${caches.filter(Boolean).join(', ')}). ` +
      'Run `npm run vcsim:install`, which builds the vcsim launcher and thereby fills the Go module cache.',
  );
}

interface GoField {
  element: string;
  goType: string;
  omitempty: boolean;
}

/** Structs (embedded base + xml fields) and `type A B` aliases of Go source. */
function parseGo(source: string): {
  structs: Map<string, { base?: string; fields: GoField[] }>;
  alias: Map<string, string>;
} {
  const structs = new Map<string, { base?: string; fields: GoField[] }>();
  for (const [, name, body] of source.matchAll(/^type (\w+) struct \{\n([\s\S]*?)^\}$/gm)) {
    const struct: { base?: string; fields: GoField[] } = { fields: [] };
    for (const line of body!.split('\n')) {
      const embedded = /^\t([A-Z]\w*)$/.exec(line);
      if (embedded) struct.base = embedded[1];
      const field = /^\t\w+\s+(\S+)\s+`xml:"([^"]*)"/.exec(line);
      if (!field) continue;
      const [element = '', ...flags] = field[2]!.split(',');
      if (field[1] === 'xml.Name' || flags.includes('attr') || element === '') continue;
      struct.fields.push({ element, goType: field[1]!, omitempty: flags.includes('omitempty') });
    }
    structs.set(name!, struct);
  }
  const alias = new Map([...source.matchAll(/^type (\w+) (\w+)$/gm)].map((m) => [m[1]!, m[2]!]));
  return { structs, alias };
}

const GO_TO_XML: Record<string, string> = {
  string: 'string',
  bool: 'boolean',
  byte: 'byte',
  int8: 'byte',
  int16: 'short',
  int32: 'int',
  int64: 'long',
  float32: 'float',
  float64: 'double',
  'time.Time': 'dateTime',
  AnyType: 'anyType',
  ManagedObjectReference: 'ManagedObjectReference',
};

/** What the schema should say for a Go field: `name:type`, `+` repeats, `?` optional. */
function expected(field: GoField, structs: Map<string, unknown>): string {
  let t = field.goType;
  let repeats = false;
  let optional = field.omitempty;
  if (t === '[]byte' || t === '[][]byte') {
    repeats = t === '[][]byte';
    t = 'base64Binary';
  } else if (t === 'ByteSlice') {
    repeats = true;
    t = 'byte';
  } else {
    if (t.startsWith('[]')) {
      repeats = true;
      t = t.slice(2);
    }
    if (t.startsWith('*')) {
      optional = true;
      t = t.slice(1);
    }
    // `BaseX` is the interface for X and its subtypes.
    if (t.startsWith('Base') && !structs.has(t) && structs.has(t.slice(4))) t = t.slice(4);
    t = GO_TO_XML[t] ?? t;
  }
  return `${field.element}:${t}${repeats ? '+' : ''}${optional ? '?' : ''}`;
}

function describeSchemaField(f: { name: string; type: string; array: boolean; optional: boolean }): string {
  return `${f.name}:${f.type}${f.array ? '+' : ''}${f.optional ? '?' : ''}`;
}

describe('generated schema matches govmomi types.go', () => {
  const { version, dir } = govmomiTypes();
  // unreleased.go declares types that types.go fields already use.
  const go = parseGo(
    `${readFileSync(join(dir, 'types.go'), 'utf8')}\n${readFileSync(join(dir, 'unreleased.go'), 'utf8')}`,
  );

  it(`every type: base and own fields in order (govmomi ${version})`, () => {
    const names = typeNames();
    assert.ok(names.length > 800);
    for (const name of names) {
      const struct = go.structs.get(name);
      assert.ok(struct, `${name} is not a struct in types.go`);
      const info = typeInfo(name)!;
      assert.equal(info.base, struct.base, `${name}: base type`);
      assert.deepEqual(
        info.ownFields.map(describeSchemaField),
        struct.fields.map((f) => expected(f, go.structs)),
        `${name}: fields`,
      );
    }
  });

  it('every method: parameters in order and return type', () => {
    for (const name of methodNames()) {
      const request = go.structs.get(go.alias.get(name) ?? '');
      assert.ok(request, `${name} has no request type in types.go`);
      const m = method(name)!;
      assert.deepEqual(
        m.params.map(describeSchemaField),
        request.fields.map((f) => expected(f, go.structs)),
        `${name}: parameters`,
      );
      assert.equal(m.params[0]?.name, '_this', `${name}: _this first`);
      const returnval = go.structs.get(`${name}Response`)?.fields.find((f) => f.element === 'returnval');
      if (returnval === undefined) assert.equal(m.returns, undefined, `${name}: returns nothing`);
      else {
        const [, type = ''] = expected(returnval, go.structs).split(':');
        assert.deepEqual(
          m.returns,
          { type: type.replace(/[+?]+$/, ''), array: type.includes('+') },
          `${name}: returns`,
        );
      }
    }
  });

  it('every fault type in types.go is in the schema, with its hierarchy', () => {
    const isFault = (name: string): boolean => {
      for (let t: string | undefined = name; t; t = go.structs.get(t)?.base)
        if (t === 'MethodFault') return true;
      return false;
    };
    const faults = [...go.structs.keys()].filter(isFault);
    assert.ok(faults.length > 600);
    const missing = faults.filter((f) => typeInfo(f) === undefined);
    assert.deepEqual(missing, []);
    for (const fault of faults) assert.ok(isSubtypeOf(fault, 'MethodFault'), fault);
  });

  it('the generated file is up to date (regenerating gives the same text)', () => {
    assert.equal(
      generateSchema().text,
      readFileSync(OUTPUT_PATH, 'utf8'),
      'src/vim25/schema.generated.ts is stale: run `node scripts/generate-schema.ts`',
    );
  });
});

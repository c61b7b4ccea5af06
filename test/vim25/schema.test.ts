import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';
import {
  fieldsOf,
  fieldType,
  hasType,
  isEnum,
  isSubtypeOf,
  ManagedObjectReference,
  method,
  methodNames,
  moref,
  parseXml,
  typeInfo,
  typeNames,
  type XmlElement,
} from '../../src/vim25/index.ts';

const srcDir = fileURLToPath(new URL('../../src/vim25/', import.meta.url));
const fixturesDir = fileURLToPath(new URL('./fixtures/', import.meta.url));

describe('ManagedObjectReference', () => {
  it('prints as Type:value and compares by type and value', () => {
    const a = moref('VirtualMachine', 'vm-42');
    assert.equal(a.toString(), 'VirtualMachine:vm-42');
    assert.equal(`${a}`, 'VirtualMachine:vm-42');
    assert.ok(a.equals(new ManagedObjectReference('VirtualMachine', 'vm-42')));
    assert.ok(a.equals(new ManagedObjectReference('VirtualMachine', 'vm-42', 'guid')));
    assert.ok(!a.equals(moref('VirtualMachine', 'vm-43')));
    assert.ok(!a.equals(moref('HostSystem', 'vm-42')));
    assert.ok(!a.equals({ type: 'VirtualMachine', value: 'vm-42' }));
    assert.deepEqual(Object.keys(a), ['type', 'value']);
  });
});

describe('schema lookups', () => {
  it('fieldsOf lists base fields first, then own, in schema order', () => {
    const names = fieldsOf('VirtualCdrom')?.map((f) => f.name);
    assert.deepEqual(names?.slice(0, 3), ['key', 'deviceInfo', 'backing']);
    assert.equal(names?.at(-1), fieldsOf('VirtualDevice')?.at(-1)?.name);
    const iso = fieldsOf('VirtualCdromIsoBackingInfo')?.map((f) => f.name);
    assert.deepEqual(iso?.slice(0, 3), ['fileName', 'datastore', 'backingObjectId']);
    assert.equal(fieldsOf('NoSuchType'), undefined);
  });

  it('fieldType gives type, repetition and optionality', () => {
    assert.deepEqual(fieldType('VirtualMachineConfigSpec', 'deviceChange'), {
      name: 'deviceChange',
      type: 'VirtualDeviceConfigSpec',
      array: true,
      optional: true,
    });
    assert.deepEqual(fieldType('VirtualDeviceConfigSpec', 'device'), {
      name: 'device',
      type: 'VirtualDevice',
      array: false,
      optional: false,
    });
    assert.equal(fieldType('VirtualController', 'device')?.array, true);
    assert.equal(fieldType('DynamicProperty', 'val')?.type, 'anyType');
    assert.equal(fieldType('TaskInfo', 'state')?.type, 'TaskInfoState');
    assert.equal(fieldType('VirtualCdrom', 'key')?.type, 'int');
    assert.equal(fieldType('VirtualCdrom', 'nope'), undefined);
  });

  it('isSubtypeOf follows the base chain', () => {
    assert.ok(isSubtypeOf('InvalidPowerState', 'InvalidState'));
    assert.ok(isSubtypeOf('InvalidPowerState', 'MethodFault'));
    assert.ok(isSubtypeOf('NotAuthenticated', 'NoPermission'));
    assert.ok(isSubtypeOf('FileNotFound', 'FileFault'));
    assert.ok(isSubtypeOf('TraversalSpec', 'SelectionSpec'));
    assert.ok(isSubtypeOf('VirtualVmxnet3', 'VirtualEthernetCard'));
    assert.ok(isSubtypeOf('VirtualVmxnet3', 'VirtualDevice'));
    assert.ok(isSubtypeOf('X', 'X'));
    assert.ok(isSubtypeOf('VirtualDisk', 'anyType'));
    assert.ok(!isSubtypeOf('InvalidState', 'InvalidPowerState'));
    assert.ok(!isSubtypeOf('VirtualDisk', 'VirtualDeviceBackingInfo'));
  });

  it('method gives parameters in order and the return type', () => {
    const createVm = method('CreateVM_Task');
    assert.deepEqual(
      createVm?.params.map((p) => p.name),
      ['_this', 'config', 'pool', 'host'],
    );
    assert.deepEqual(createVm?.returns, { type: 'ManagedObjectReference', array: false });
    assert.deepEqual(method('QueryOptions')?.returns, { type: 'OptionValue', array: true });
    assert.equal(method('Logout')?.returns, undefined);
    assert.equal(method('RenameTask'), undefined);
    assert.ok(method('Rename_Task'));
  });

  it('knows enums, and the types the brief asked for', () => {
    assert.ok(isEnum('VirtualMachinePowerState'));
    assert.ok(!isEnum('VirtualMachine'));
    for (const name of [
      'ServiceContent',
      'TaskInfo',
      'TaskReasonUser',
      'LocalizedMethodFault',
      'VirtualMachineCloneSpec',
      'VirtualMachineConfigSpec',
      'ParaVirtualSCSIController',
      'VirtualEthernetCardOpaqueNetworkBackingInfo',
      'VirtualMachineSnapshotTree',
      'GuestNicInfo',
      'InvalidCollectorVersion',
      'ToolsUnavailable',
      'HostNotConnected',
    ]) {
      assert.ok(hasType(name), name);
    }
  });

  it('holds every method the library sends', () => {
    // Every vim25 call in src names its method as the first string argument of invoke/call/runTask.
    const sent = new Set<string>();
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith('.ts')) {
          const text = readFileSync(path, 'utf8');
          for (const m of text.matchAll(/\.(?:invoke|call|runTask)(?:<[^>(]*>)?\(\s*'([A-Za-z_]+)'/g))
            sent.add(m[1]!);
        }
      }
    };
    walk(join(import.meta.dirname, '..', '..', 'src'));
    assert.ok(sent.size >= 20, `found ${sent.size} methods sent from src`);
    const known = new Set(methodNames());
    for (const name of sent) assert.ok(known.has(name), `${name} is sent but not in the schema`);
  });

  it('includes every fault type: all subtypes of MethodFault', () => {
    const faults = typeNames().filter((t) => isSubtypeOf(t, 'MethodFault'));
    assert.ok(faults.length > 600, `only ${faults.length} fault types`);
  });

  it('every field and base type is a primitive, an enum, a MoRef or described in the schema', () => {
    const primitives = new Set([
      'string',
      'boolean',
      'byte',
      'short',
      'int',
      'long',
      'float',
      'double',
      'dateTime',
      'base64Binary',
      'anyType',
      'ManagedObjectReference',
    ]);
    const known = (t: string): boolean => primitives.has(t) || isEnum(t) || hasType(t);
    for (const name of typeNames()) {
      const info = typeInfo(name)!;
      if (info.base) assert.ok(hasType(info.base), `${name} base ${info.base}`);
      for (const f of info.ownFields) assert.ok(known(f.type), `${name}.${f.name}: ${f.type}`);
    }
    for (const name of methodNames()) {
      for (const p of method(name)!.params) assert.ok(known(p.type), `${name}(${p.name}: ${p.type})`);
    }
  });
});

describe('schema cost', () => {
  it('the generated table stays under 120 KB', () => {
    const size = statSync(join(srcDir, 'schema.generated.ts')).size;
    assert.ok(size < 120 * 1024, `schema.generated.ts is ${size} bytes`);
  });

  it('a cold import of the package (as JavaScript) takes under 40 ms', (t) => {
    // Measured on the type-stripped JavaScript, which is what the built package ships: running the
    // .ts sources adds Node's own type-stripper start-up (about 45 ms here), which no module controls.
    const out = mkdtempSync(join(tmpdir(), 'vim25-import-'));
    try {
      const strip = `
        import { stripTypeScriptTypes } from 'node:module';
        import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
        const out = ${JSON.stringify(out)};
        const js = (from, to) => writeFileSync(to, stripTypeScriptTypes(readFileSync(from, 'utf8')).replace(/(from '[^']+)\\.ts'/g, "$1.js'"));
        mkdirSync(out + '/vim25');
        writeFileSync(out + '/package.json', '{"type":"module"}');
        js(${JSON.stringify(join(srcDir, '../errors.ts'))}, out + '/errors.js');
        for (const f of readdirSync(${JSON.stringify(srcDir)})) js(${JSON.stringify(srcDir)} + f, out + '/vim25/' + f.replace(/\\.ts$/, '.js'));
      `;
      execFileSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', strip]);
      const measure = `
        const start = performance.now();
        const m = await import(${JSON.stringify(join(out, 'vim25/index.js'))});
        const imported = performance.now() - start;
        m.method('CreateVM_Task');
        m.fieldsOf('VirtualMachineConfigSpec');
        process.stdout.write(JSON.stringify({ imported, firstUse: performance.now() - start - imported }));
      `;
      const runs = [1, 2, 3].map(
        () =>
          JSON.parse(
            execFileSync(process.execPath, ['--input-type=module', '-e', measure], { encoding: 'utf8' }),
          ) as {
            imported: number;
            firstUse: number;
          },
      );
      const best = Math.min(...runs.map((r) => r.imported));
      t.diagnostic(
        `cold import ${runs.map((r) => r.imported.toFixed(1)).join('/')} ms, first lookups ${runs.map((r) => r.firstUse.toFixed(1)).join('/')} ms`,
      );
      assert.ok(best < 40, `cold import took ${best.toFixed(1)} ms`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('types.ts agrees with the schema', () => {
  const text = readFileSync(join(srcDir, 'types.ts'), 'utf8');
  const interfaces = [...text.matchAll(/^export interface (\w+) extends (\w+) \{(?:\}|\n([\s\S]*?)^\})/gm)];

  it('declares the interfaces others code against', () => {
    const names = new Set(interfaces.map((m) => m[1]));
    for (const name of [
      'ServiceContent',
      'AboutInfo',
      'UserSession',
      'ObjectContent',
      'RetrieveResult',
      'DynamicProperty',
      'MissingProperty',
      'PropertyFilterSpec',
      'PropertySpec',
      'ObjectSpec',
      'TraversalSpec',
      'SelectionSpec',
      'UpdateSet',
      'PropertyFilterUpdate',
      'ObjectUpdate',
      'PropertyChange',
      'TaskInfo',
      'LocalizedMethodFault',
      'VirtualMachineConfigSpec',
      'VirtualMachineCloneSpec',
      'VirtualMachineRelocateSpec',
      'VirtualDeviceConfigSpec',
      'VirtualDevice',
      'VirtualCdrom',
      'VirtualDisk',
      'VirtualVmxnet3',
      'ParaVirtualSCSIController',
      'OptionValue',
      'GuestNicInfo',
    ]) {
      assert.ok(names.has(name), name);
    }
    assert.match(text, /export type TaskInfoState = 'queued' \| 'running' \| 'success' \| 'error';/);
  });

  it('every interface matches its schema type: base, field names, order, repetition, optionality', () => {
    assert.ok(interfaces.length > 50);
    for (const [, name, base, body] of interfaces) {
      const info = typeInfo(name!);
      assert.ok(info, `${name} is not in the schema`);
      if (base !== 'DataObject') assert.equal(info.base, base, `${name} extends`);
      const fields = [...(body ?? '').matchAll(/^ {2}(\w+)(\??): ([^;]+);$/gm)].map(
        ([, field, optional, type]) => ({
          name: field!,
          optional: optional === '?',
          array: type!.endsWith('[]'),
        }),
      );
      assert.deepEqual(
        fields,
        info.ownFields.map((f) => ({ name: f.name, optional: f.optional, array: f.array })),
        name,
      );
    }
  });
});

describe('XML reader agrees with fast-xml-parser on every vcsim fixture', () => {
  // fast-xml-parser with the options from the project notes is the reference for "no data loss".
  const reference = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    removeNSPrefix: false,
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
    processEntities: true,
    // Needed for numeric references (&#13;): fast-xml-parser decodes them only with htmlEntities on.
    htmlEntities: true,
    ignoreDeclaration: true,
  });

  type Leaf = [path: string, attrs: string, text: string];

  function oursLeaves(element: XmlElement, path: string, out: Leaf[]): Leaf[] {
    const here = `${path}/${element.name}`;
    const attrs = (element.attrs ?? []).join(' ');
    if (element.children === undefined) out.push([here, attrs, element.text]);
    else for (const child of element.children) oursLeaves(child, here, out);
    return out;
  }

  function referenceLeaves(nodes: unknown[], path: string, out: Leaf[]): Leaf[] {
    for (const node of nodes as Array<Record<string, unknown>>) {
      const name = Object.keys(node).find((k) => k !== ':@');
      if (name === undefined || name === '#text') continue;
      const children = node[name] as Array<Record<string, unknown>>;
      const attrs = Object.entries((node[':@'] ?? {}) as Record<string, string>)
        .flatMap(([k, v]) => [k.slice(2), v])
        .join(' ');
      const elements = children.filter((c) => !('#text' in c));
      if (elements.length === 0) {
        const text = children.map((c) => String(c['#text'] ?? '')).join('');
        out.push([`${path}/${name}`, attrs, text]);
      } else referenceLeaves(children, `${path}/${name}`, out);
    }
    return out;
  }

  for (const file of readdirSync(fixturesDir).filter((f) => f.endsWith('.xml') && !f.includes('request'))) {
    it(file, () => {
      const xml = readFileSync(join(fixturesDir, file), 'utf8');
      const ours = oursLeaves(parseXml(xml), '', []);
      const theirs = referenceLeaves(reference.parse(xml) as unknown[], '', []);
      assert.ok(ours.length > 0);
      assert.deepEqual(ours, theirs);
    });
  }
});

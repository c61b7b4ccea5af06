/**
 * `InstanceProperties` (the typed `Properties` of the library API) names exactly the keys that
 * `parseProperties` accepts, both spellings, and its NIC and disk objects exactly the keys their
 * parsers accept: read from the declarations, so a key added to one side only fails here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { PROPERTY_KEYS } from '../../src/provider/properties.ts';
import { DISK_KEYS } from '../../src/provider/properties-machine.ts';
import { NIC_KEYS } from '../../src/provider/properties-network.ts';

const SOURCE = new URL('../../src/provider/instance-properties.ts', import.meta.url);

function declaredKeys(name: string): string[] {
  const file = ts.createSourceFile('p.ts', readFileSync(SOURCE, 'utf8'), ts.ScriptTarget.Latest, true);
  const decl = file.statements.find(
    (s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === name,
  );
  assert.ok(decl, `interface ${name} is declared`);
  assert.equal(decl.heritageClauses, undefined, `${name} lists its keys itself`);
  return decl.members.map((m) => {
    assert.ok(ts.isPropertySignature(m) && ts.isIdentifier(m.name), `${name}: a plain property`);
    return m.name.text;
  });
}

describe('InstanceProperties', () => {
  it('names every key parseProperties accepts, and no other', () => {
    const declared = declaredKeys('InstanceProperties');
    assert.deepEqual([...declared].sort(), [...PROPERTY_KEYS].sort());
  });

  it('its NIC and disk objects name the keys their parsers accept', () => {
    assert.deepEqual(declaredKeys('InstanceNic').sort(), [...NIC_KEYS].sort());
    assert.deepEqual(declaredKeys('InstanceDisk').sort(), [...DISK_KEYS].sort());
  });
});

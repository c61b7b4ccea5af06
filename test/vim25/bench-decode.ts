/**
 * Measures decodeResponse on a large RetrievePropertiesEx: `node test/vim25/bench-decode.ts [vms]`.
 * The document repeats the VM objects of the captured vcsim fixture with the five properties a provider's
 * describe call reads (name, power state, guest IP, guest NICs, annotation), renumbered: 2,000 VMs make
 * about 1.8 MB.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeResponse } from '../../src/vim25/index.ts';

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/retrieve-vms.xml');
const DROPPED = ['config.extraConfig', 'summary.config.numCpu', 'config.template', 'parent'];

/** A RetrievePropertiesEx response with `vmCount` VM objects built from the vcsim fixture. */
export function largeRetrieveResponse(vmCount: number): string {
  const src = readFileSync(fixture, 'utf8');
  const objects = [...src.matchAll(/<objects>.*?<\/objects>/gs)].map((m) => {
    let object = m[0];
    for (const path of DROPPED)
      object = object.replace(new RegExp(`<propSet><name>${path}</name>.*?</propSet>`, 's'), '');
    return object;
  });
  const head = src.slice(0, src.indexOf('<returnval>') + '<returnval>'.length);
  const parts: string[] = [head];
  for (let i = 0; i < vmCount; i++) {
    parts.push(objects[i % objects.length]!.replace(/>vm-\d+</, `>vm-${1000 + i}<`));
  }
  parts.push('</returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>');
  return parts.join('');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const vms = Number(process.argv[2] ?? 2000);
  const xml = largeRetrieveResponse(vms);
  const times: number[] = [];
  for (let run = 0; run < 15; run++) {
    const start = performance.now();
    decodeResponse(xml, 'RetrievePropertiesEx');
    times.push(performance.now() - start);
  }
  const warm = times.slice(5).sort((a, b) => a - b);
  console.log(
    `${vms} VMs, ${(xml.length / 1e6).toFixed(2)} MB: first ${times[0]!.toFixed(1)} ms, warm median ${warm[Math.floor(warm.length / 2)]!.toFixed(1)} ms, best ${warm[0]!.toFixed(1)} ms`,
  );
}

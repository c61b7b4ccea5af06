/**
 * Builds an InfraKit group directly in vcsim: the group folder under DC0's VM folder and `count`
 * VMs in it carrying the annotation the provider writes (with a guest IP, as a running instance
 * would report). Concurrent CreateVM_Task calls make 10,000 VMs in seconds, where vcsim's own
 * `-vm` start-up flag costs about 40 ms per VM.
 */
import { encodeAnnotation } from '../../../src/provider/annotation.ts';
import { type RawSoap, xmlText } from './raw-soap.ts';

export interface GroupOptions {
  group: string;
  count: number;
  configHash?: string;
  /** Concurrent CreateVM_Task calls (default 16). */
  concurrency?: number;
  /** Datacenter name (default DC0). */
  datacenter?: string;
}

export interface PreparedGroup {
  group: string;
  folder: string;
  count: number;
  ms: number;
}

/** The annotation the provider writes for instance `n` of a group (group, hash, tags, logical id). */
export function instanceAnnotation(group: string, configHash: string, n: number): string {
  return encodeAnnotation({
    group,
    configHash,
    tags: {
      'infrakit.group': group,
      'infrakit.config.hash': configHash,
      'infrakit-link': `bench-${n}`,
      project: 'infrakit-bench',
    },
  });
}

function guestIp(n: number): string {
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${(n & 255) + 1}`;
}

export async function prepareGroup(soap: RawSoap, options: GroupOptions): Promise<PreparedGroup> {
  const started = performance.now();
  const dc = options.datacenter ?? 'DC0';
  const hash = options.configHash ?? 'bench-hash-0001';
  const vmFolder = await soap.findByPath(`${dc}/vm`);
  const pool = await soap.findByPath(`${dc}/host/${dc}_H0/Resources`);
  if (!vmFolder || !pool) throw new Error(`vcsim has no ${dc}/vm or ${dc}/host/${dc}_H0/Resources`);
  const created = await soap.call(
    'CreateFolder',
    `<CreateFolder xmlns="urn:vim25"><_this type="Folder">${vmFolder.value}</_this><name>${xmlText(options.group)}</name></CreateFolder>`,
  );
  const folder = /<returnval type="Folder">([^<]+)<\/returnval>/.exec(created)?.[1];
  if (!folder) throw new Error(`CreateFolder ${options.group}: no folder in ${created.slice(0, 300)}`);
  let next = 0;
  const worker = async () => {
    while (next < options.count) {
      const n = next++;
      const annotation = instanceAnnotation(options.group, hash, n);
      await soap.call(
        'CreateVM_Task',
        `<CreateVM_Task xmlns="urn:vim25"><_this type="Folder">${folder}</_this><config><name>${xmlText(`${options.group}-${n}`)}</name><guestId>otherLinux64Guest</guestId><files><vmPathName>[LocalDS_0]</vmPathName></files><numCPUs>1</numCPUs><memoryMB>32</memoryMB><annotation>${xmlText(annotation)}</annotation><extraConfig><key>SET.guest.ipAddress</key><value xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xsd:string" xmlns:xsd="http://www.w3.org/2001/XMLSchema">${guestIp(n)}</value></extraConfig></config><pool type="ResourcePool">${pool.value}</pool></CreateVM_Task>`,
      );
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
  // CreateVM_Task finishes asynchronously in vcsim: wait until the folder holds every VM.
  for (let i = 0; ; i++) {
    const children = await soap.childEntities(folder);
    if (children.length >= options.count) break;
    if (i > 1200)
      throw new Error(`vcsim made ${children.length} of ${options.count} VMs in ${options.group}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { group: options.group, folder, count: options.count, ms: performance.now() - started };
}

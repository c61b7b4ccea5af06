/**
 * Captures the vcsim responses under `test/vim25/fixtures/` that the codec's unit tests decode.
 *
 * Run: `node test/vim25/capture-fixtures.ts` (needs the launcher built by `npm run vcsim:install`; the
 * binary is taken from `$VCSIM` or `/tmp/vcsim-launcher`). The requests are written by hand, not by the
 * encoder under test, so the fixtures are independent evidence of what vcsim sends.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const launcher = process.env.VCSIM ?? '/tmp/vcsim-launcher';

/** A started simulator: its SOAP endpoint and how to stop it. */
interface Sim {
  host: string;
  port: number;
  stop(): void;
}

function startSim(): Promise<Sim> {
  const child = spawn(launcher, ['-l', '127.0.0.1:0', '-dc', '2', '-stdinexit'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.on('error', reject);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /GOVC_URL=https:\/\/[^@]*@([\d.]+):(\d+)\/sdk/.exec(out);
      if (match) {
        resolve({
          host: match[1]!,
          port: Number(match[2]),
          stop: () => child.stdin.end('x'),
        });
      }
    });
  });
}

let cookie = '';

/** POSTs one SOAP body and returns the raw response text, whatever the HTTP status. */
function soap(sim: Sim, body: string): Promise<string> {
  const envelope = `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>${body}</soapenv:Body></soapenv:Envelope>`;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: sim.host,
        port: sim.port,
        path: '/sdk',
        method: 'POST',
        // vcsim serves a self-signed certificate.
        rejectUnauthorized: false,
        headers: {
          'Content-Type': 'text/xml; charset=utf-8',
          SOAPAction: 'urn:vim25/8.0.2.0',
          ...(cookie ? { Cookie: cookie } : {}),
        },
      },
      (res) => {
        const setCookie = res.headers['set-cookie']?.[0];
        if (setCookie) cookie = setCookie.split(';')[0]!;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      },
    );
    req.on('error', reject);
    req.end(envelope);
  });
}

function save(name: string, xml: string): string {
  writeFileSync(join(fixtures, name), xml);
  return xml;
}

/** First `<tag type="T">value</tag>` MoRef value in a response. */
function morefValue(xml: string, tag = 'returnval'): string {
  const match = new RegExp(`<${tag} type="[^"]+"[^>]*>([^<]+)</${tag}>`).exec(xml);
  if (!match) throw new Error(`no ${tag} MoRef in ${xml}`);
  return match[1]!;
}

const pc = '<_this type="PropertyCollector">propertyCollector</_this>';

function retrieve(type: string, value: string, paths: string[]): string {
  const pathSet = paths.map((p) => `<pathSet>${p}</pathSet>`).join('');
  return `<RetrievePropertiesEx xmlns="urn:vim25">${pc}<specSet><propSet><type>${type}</type>${pathSet}</propSet><objectSet><obj type="${type}">${value}</obj></objectSet></specSet><options></options></RetrievePropertiesEx>`;
}

async function waitTask(sim: Sim, task: string): Promise<string> {
  for (;;) {
    const xml = await soap(sim, retrieve('Task', task, ['info']));
    if (/<state>(success|error)<\/state>/.test(xml)) return xml;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main(): Promise<void> {
  const sim = await startSim();
  try {
    const si = '<_this type="ServiceInstance">ServiceInstance</_this>';
    save(
      'service-content.xml',
      await soap(sim, `<RetrieveServiceContent xmlns="urn:vim25">${si}</RetrieveServiceContent>`),
    );
    save(
      'fault-not-authenticated.xml',
      await soap(sim, `<CurrentTime xmlns="urn:vim25">${si}</CurrentTime>`),
    );
    save(
      'retrieve-unauthenticated.xml',
      await soap(sim, retrieve('Folder', 'group-d1', ['name', 'childEntity'])),
    );
    save(
      'login.xml',
      await soap(
        sim,
        '<Login xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this><userName>user</userName><password>pass</password></Login>',
      ),
    );
    save('current-time.xml', await soap(sim, `<CurrentTime xmlns="urn:vim25">${si}</CurrentTime>`));

    const search = '<_this type="SearchIndex">SearchIndex</_this>';
    const find = async (path: string): Promise<string> =>
      soap(
        sim,
        `<FindByInventoryPath xmlns="urn:vim25">${search}<inventoryPath>${path}</inventoryPath></FindByInventoryPath>`,
      );
    const vmFolder = morefValue(save('find-by-inventory-path.xml', await find('DC0/vm')));
    save('find-by-inventory-path-absent.xml', await find('DC0/vm/no-such-vm'));
    const hostFolder = morefValue(await find('DC0/host'));
    const pool = morefValue(await find('DC0/host/DC0_C0/Resources'));
    const network = morefValue(await find('DC0/network/VM Network'));
    const vm0 = morefValue(await find('DC0/vm/DC0_H0_VM0'));
    const vm1 = morefValue(await find('DC0/vm/DC0_H0_VM1'));

    // Text the codec must carry unchanged: surrounding spaces, markup characters, CR LF, a CDATA
    // terminator, non-ASCII and a character outside the BMP.
    const annotation = '  lead &amp; &lt;tag&gt; "dq" \'sq\'&#13;\nline2 ]]&gt; é 😀 trail  ';
    const reconfig = (vm: string, spec: string): string =>
      `<ReconfigVM_Task xmlns="urn:vim25"><_this type="VirtualMachine">${vm}</_this><spec>${spec}</spec></ReconfigVM_Task>`;
    await waitTask(
      sim,
      morefValue(
        await soap(
          sim,
          reconfig(
            vm0,
            `<annotation>${annotation}</annotation><extraConfig><key>SET.guest.ipAddress</key><value xsi:type="xsd:string">10.0.0.5</value></extraConfig>`,
          ),
        ),
      ),
    );
    await waitTask(sim, morefValue(await soap(sim, reconfig(vm1, '<annotation>   </annotation>'))));

    const view = morefValue(
      await soap(
        sim,
        `<CreateContainerView xmlns="urn:vim25"><_this type="ViewManager">ViewManager</_this><container type="Folder">group-d1</container><type>VirtualMachine</type><recursive>true</recursive></CreateContainerView>`,
      ),
    );
    const paths = [
      'name',
      'runtime.powerState',
      'guest.ipAddress',
      'guest.net',
      'config.annotation',
      'config.extraConfig',
      'summary.config.numCpu',
      'config.template',
      'parent',
    ]
      .map((p) => `<pathSet>${p}</pathSet>`)
      .join('');
    const vms = save(
      'retrieve-vms.xml',
      await soap(
        sim,
        `<RetrievePropertiesEx xmlns="urn:vim25">${pc}<specSet><propSet><type>VirtualMachine</type>${paths}</propSet><objectSet><obj type="ContainerView">${view}</obj><skip>true</skip><selectSet xsi:type="TraversalSpec"><name>view</name><type>ContainerView</type><path>view</path><skip>false</skip></selectSet></objectSet></specSet><options><maxObjects>4</maxObjects></options></RetrievePropertiesEx>`,
      ),
    );
    const token = /<token>([^<]+)<\/token>/.exec(vms)?.[1];
    save(
      'continue-retrieve.xml',
      await soap(
        sim,
        `<ContinueRetrievePropertiesEx xmlns="urn:vim25">${pc}<token>${token}</token></ContinueRetrievePropertiesEx>`,
      ),
    );
    save(
      'fault-invalid-property.xml',
      await soap(sim, retrieve('VirtualMachine', vm0, ['no.such.property'])),
    );

    const createFolder = `<CreateFolder xmlns="urn:vim25"><_this type="Folder">${vmFolder}</_this><name>fixtures</name></CreateFolder>`;
    save('create-folder.xml', await soap(sim, createFolder));
    save('fault-duplicate-name.xml', await soap(sim, createFolder));

    // Schema order, as real vCenter requires; every device type the provider builds.
    const createVm = `<CreateVM_Task xmlns="urn:vim25"><_this type="Folder">${vmFolder}</_this><config><name>fixture-vm</name><guestId>otherLinux64Guest</guestId><annotation>created by capture-fixtures</annotation><files><vmPathName>[LocalDS_0]</vmPathName></files><numCPUs>2</numCPUs><memoryMB>1024</memoryMB><deviceChange><operation>add</operation><device xsi:type="ParaVirtualSCSIController"><key>-100</key><busNumber>0</busNumber><sharedBus>noSharing</sharedBus></device></deviceChange><deviceChange><operation>add</operation><fileOperation>create</fileOperation><device xsi:type="VirtualDisk"><key>-101</key><backing xsi:type="VirtualDiskFlatVer2BackingInfo"><fileName></fileName><diskMode>persistent</diskMode><thinProvisioned>true</thinProvisioned></backing><controllerKey>-100</controllerKey><unitNumber>0</unitNumber><capacityInKB>1048576</capacityInKB></device></deviceChange><deviceChange><operation>add</operation><device xsi:type="VirtualCdrom"><key>-102</key><backing xsi:type="VirtualCdromIsoBackingInfo"><fileName>[LocalDS_0] iso/linuxkit.iso</fileName></backing><connectable><startConnected>true</startConnected><allowGuestControl>false</allowGuestControl><connected>true</connected></connectable><controllerKey>200</controllerKey><unitNumber>0</unitNumber></device></deviceChange><deviceChange><operation>add</operation><device xsi:type="VirtualVmxnet3"><key>-103</key><backing xsi:type="VirtualEthernetCardNetworkBackingInfo"><deviceName>VM Network</deviceName><network type="Network">${network}</network></backing><addressType>generated</addressType></device></deviceChange><extraConfig><key>guestinfo.infrakit.group</key><value xsi:type="xsd:string">workers</value></extraConfig></config><pool type="ResourcePool">${pool}</pool></CreateVM_Task>`;
    // Kept so the encoder's output can be compared with a request vcsim accepted.
    save('create-vm-request.xml', `${createVm}\n`);
    const createTask = morefValue(save('create-vm-task.xml', await soap(sim, createVm)));
    const created = save('task-info-success.xml', await waitTask(sim, createTask));
    const newVm = morefValue(created, 'result');
    save(
      'retrieve-devices.xml',
      await soap(sim, retrieve('VirtualMachine', newVm, ['config.hardware.device', 'config.files'])),
    );

    const powerOn = `<PowerOnVM_Task xmlns="urn:vim25"><_this type="VirtualMachine">${vm0}</_this></PowerOnVM_Task>`;
    save('task-info-error.xml', await waitTask(sim, morefValue(await soap(sim, powerOn))));
    const move = `<MoveIntoFolder_Task xmlns="urn:vim25"><_this type="Folder">${hostFolder}</_this><list type="VirtualMachine">${vm1}</list></MoveIntoFolder_Task>`;
    save('task-info-not-supported.xml', await waitTask(sim, morefValue(await soap(sim, move))));

    const collector = morefValue(
      await soap(sim, `<CreatePropertyCollector xmlns="urn:vim25">${pc}</CreatePropertyCollector>`),
    );
    const filterSpec = `<spec><propSet><type>Task</type><pathSet>info.state</pathSet><pathSet>info.error</pathSet></propSet><objectSet><obj type="Task">${createTask}</obj></objectSet></spec><partialUpdates>false</partialUpdates>`;
    await soap(
      sim,
      `<CreateFilter xmlns="urn:vim25"><_this type="PropertyCollector">${collector}</_this>${filterSpec}</CreateFilter>`,
    );
    save(
      'wait-for-updates.xml',
      await soap(
        sim,
        `<WaitForUpdatesEx xmlns="urn:vim25"><_this type="PropertyCollector">${collector}</_this><version></version><options><maxWaitSeconds>1</maxWaitSeconds></options></WaitForUpdatesEx>`,
      ),
    );
    save(
      'query-options.xml',
      await soap(
        sim,
        '<QueryOptions xmlns="urn:vim25"><_this type="OptionManager">VpxSettings</_this><name>config.vpxd.</name></QueryOptions>',
      ),
    );
    save(
      'logout.xml',
      await soap(
        sim,
        '<Logout xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this></Logout>',
      ),
    );
  } finally {
    sim.stop();
  }
}

await main();

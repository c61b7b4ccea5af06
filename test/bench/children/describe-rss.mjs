// P5: a fresh process that logs in and describes a group three times with the built package
// (dist/, what users run: a .ts entry would add Node's type-stripping compiler to the RSS), then
// prints its peak RSS. `node describe-rss.mjs <sdkUrl> <sha256-thumbprint> <group>`
import { VSphereInstanceProvider } from 'infrakit-instance-vsphere';

const [url, thumbprint, group] = process.argv.slice(2);
const provider = new VSphereInstanceProvider({
  url,
  username: 'user',
  password: 'pass',
  tls: { thumbprint },
  datacenter: 'DC0',
  datastore: 'LocalDS_0',
});
await provider.client.connect();
const afterLoginKB = process.resourceUsage().maxRSS;
let count = 0;
for (let i = 0; i < 3; i++) count = (await provider.describe({ 'infrakit.group': group })).length;
const peakKB = process.resourceUsage().maxRSS;
await provider.close();
process.stdout.write(JSON.stringify({ afterLoginKB, peakKB, count }));

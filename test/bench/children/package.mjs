// P6: a cold ESM import of the package through its own name (package.json "exports" -> dist/index.js).
import 'infrakit-instance-vsphere';

// P6, in-process view: time of the dynamic import alone, and of Node's start-up before it.
const startedAt = performance.now();
await import('infrakit-instance-vsphere');
const importMs = performance.now() - startedAt;
process.stdout.write(JSON.stringify({ startupMs: startedAt, importMs }));

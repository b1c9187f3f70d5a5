// Both halves at once: the Node service, then the Django side as a child process, both on
// the Redis at $REDIS_URL (default redis://127.0.0.1:6379). Exits with the Django side's code.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { findPython } from '../../bench/python.js';
import { startService } from './node-service.mjs';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// RINGBUS_PYTHON, else the first python3/python on PATH that has channels_redis and Django.
const python = findPython({ modules: ['channels_redis', 'django', 'channels'] });
if (python.path === null) {
  console.error(python.describe());
  process.exit(1);
}
console.log(`demo: ${python.describe()}`);
const service = await startService(url);
const django = spawn(python.path, [fileURLToPath(new URL('./django_side.py', import.meta.url))], {
  env: { ...process.env, REDIS_URL: url },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const [code] = await once(django, 'exit');
await service.stop();
process.exitCode = code ?? 1;

// Both halves at once: the Node service, then the Django side as a child process, both on
// the Redis at $REDIS_URL (default redis://127.0.0.1:6379). Exits with the Django side's code.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { startService } from './node-service.mjs';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const service = await startService(url);
const django = spawn('/usr/bin/python3', [fileURLToPath(new URL('./django_side.py', import.meta.url))], {
  env: { ...process.env, REDIS_URL: url },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const [code] = await once(django, 'exit');
await service.stop();
process.exitCode = code ?? 1;

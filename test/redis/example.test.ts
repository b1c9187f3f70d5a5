/**
 * examples/django-interop runs as its README says: a Django Channels consumer (Debian's
 * python3-channels-redis and Django) and the Node service exchange messages through a real
 * redis-server.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { redisTestsEnabled, useRedisServer } from './server.js';

const run = promisify(execFile);
const enabled = redisTestsEnabled(true);

describe.runIf(enabled)('examples/django-interop', () => {
  const redis = useRedisServer();

  it('passes a request from a Django consumer to Node and the answers back', async () => {
    const demo = fileURLToPath(new URL('../../examples/django-interop/run-demo.mjs', import.meta.url));
    const { stdout } = await run(process.execPath, [demo], { env: { ...process.env, REDIS_URL: redis.url }, timeout: 30_000 });
    expect(stdout).toContain('node: got {"type":"shout.request","text":"hello from django"');
    expect(stdout).toContain("django: the browser got {'shouted': 'HELLO FROM DJANGO'}");
    expect(stdout).toContain(`django: the browser got {'chat': 'someone said "hello from django"', 'from': 'node'}`);
  });
});

/** examples/hybrid runs as its README says: two machines, two workers each, one redis-server. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { redisTestsEnabled, useRedisServer } from '../redis/server.js';

const run = promisify(execFile);
const enabled = redisTestsEnabled();

describe.runIf(enabled)('examples/hybrid', () => {
  const redis = useRedisServer();

  it('every worker of both machines hears every hello once', async () => {
    const demo = fileURLToPath(new URL('../../examples/hybrid/run-demo.mjs', import.meta.url));
    const { stdout } = await run(process.execPath, [demo], { env: { ...process.env, REDIS_URL: redis.url }, timeout: 90_000 });
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line).toMatch(/heard: a\/0, a\/1, b\/0, b\/1$/);
  }, 120_000);
});

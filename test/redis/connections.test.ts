/**
 * Ways to reach Redis besides a plain URL: TLS (`rediss://` with a CA), and Sentinel
 * (`{ sentinels, name }`), each against real redis-server processes.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionError, createLayer } from '../../dist/index.js';
import { RedisProcess, redisTestsEnabled, useRedisSentinel } from './server.js';

const enabled = redisTestsEnabled();
const haveOpenssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;

describe.runIf(enabled)('connections', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ringbus-redis-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe.runIf(haveOpenssl)('TLS', () => {
    let server: RedisProcess;
    let ca: Buffer;
    beforeAll(async () => {
      const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
      const made = spawnSync('openssl', [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
        '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      ], { stdio: 'ignore' });
      expect(made.status).toBe(0);
      ca = readFileSync(cert);
      server = await RedisProcess.start([], { tls: { cert, key } });
    });
    afterAll(async () => {
      await server?.stop();
    });

    it('talks over rediss:// with the server certificate as CA', async () => {
      const layer = await createLayer({ backend: 'redis', hosts: [`rediss://127.0.0.1:${server.port}`], tls: { ca } });
      const me = await layer.newChannel();
      await layer.send(me, { secure: true });
      expect(await layer.receive(me)).toEqual({ secure: true });
      await layer.close();
    });

    it('refuses a server it cannot verify, with ConnectionError', async () => {
      const err = await createLayer({ backend: 'redis', hosts: [`rediss://127.0.0.1:${server.port}`], operationTimeout: 500 }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConnectionError);
      expect((err as Error).message).toMatch(/certificate/i);
    });
  });

  describe('Sentinel', () => {
    const redis = useRedisSentinel();

    it('finds the master through a sentinel', async () => {
      const layer = await createLayer({
        backend: 'redis',
        hosts: [redis.host],
        prefix: 'sentinel:',
      });
      const group = 'sentinel.group';
      const ch = 'sentinel.member';
      await layer.groupAdd(group, ch);
      await layer.groupSend(group, { via: 'sentinel' });
      expect(await layer.receive(ch)).toEqual({ via: 'sentinel' });
      await layer.close();
    });
  });
});

/**
 * TypeScript consumers: a strict program using every entry point (typed messages with
 * interfaces, receive<T>, listen<T>, receiveLease<T>, createLayer's per-backend return
 * types, the worker hand-off, ringbus/pool with our PoolOptions) compiles with tsc against
 * the built package under `module: node16` and `module: nodenext`, with `skipLibCheck`
 * off, and the lines it marks with @ts-expect-error are refused.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeOutside } from './outside.js';

const outside = makeOutside('ringbus-types-');
afterAll(() => outside.remove());
const consumer = outside.write('src/consumer.ts', readFileSync(join(import.meta.dirname, 'fixtures/consumer.ts'), 'utf8'));

const base = { strict: true, target: 'es2022', skipLibCheck: false, types: ['node'], noUncheckedIndexedAccess: true };

describe('TypeScript consumers', () => {
  for (const module of ['node16', 'nodenext']) {
    it(`compile under module: ${module} with skipLibCheck: false`, async () => {
      const { code, output } = await outside.tsc({ ...base, module, moduleResolution: module }, [consumer]);
      expect(output).toBe('');
      expect(code).toBe(0);
    });
  }

  it('the @ts-expect-error lines are really refused (without them the program fails)', async () => {
    const stripped = readFileSync(consumer, 'utf8').replace(/^\/\/ @ts-expect-error.*$/gm, '');
    const file = outside.write('src/unmarked.ts', stripped);
    const { code, output } = await outside.tsc({ ...base, module: 'nodenext', moduleResolution: 'nodenext' }, [file]);
    expect(code).not.toBe(0);
    const errors = output.split('\n').filter((line) => line.includes('error TS'));
    expect(errors).toHaveLength(5);
  });
});

/** Error messages name a class instance by its class (never `[object Object]`). */
import { describe, expect, it } from 'vitest';
import { createLayer } from '../../dist/index.js';
import { quote } from '../../dist/layer.js';

class Job {
  id = 1;
}

describe('values in error messages', () => {
  it('quote names instances by class, arrays and plain objects by kind', () => {
    expect(quote(new Job())).toBe('a Job instance');
    expect(quote(new Date(0))).toBe('a Date instance');
    expect(quote(new Int8Array(1))).toBe('an Int8Array instance');
    expect(quote([1, 2])).toBe('an array of 2');
    expect(quote({ a: 1 })).toBe('a plain object');
    expect(quote(Object.create(null))).toBe('a plain object');
    expect(quote('x')).toBe('"x"');
  });

  it('send refuses a class instance naming its class', async () => {
    const layer = await createLayer({ backend: 'memory' });
    await expect(layer.send('a', new Job() as never)).rejects.toThrow('invalid message a Job instance: a message must be a plain object');
    await expect(layer.send('a', { job: new Job() } as never)).rejects.toThrow(/invalid value a Job instance at message\.job/);
    await expect(createLayer({ backend: 'memory', capacity: new Job() } as never)).rejects.toThrow(/capacity: a Job instance/);
    await expect(createLayer({ memory: new Job() } as never)).rejects.toThrow(/invalid option memory: a Job instance/);
    await expect(createLayer(new Job() as never)).rejects.toThrow(/unknown option "id"/);
    await layer.close();
  });
});

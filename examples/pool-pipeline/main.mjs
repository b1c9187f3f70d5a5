// A piscina pool on the bus: `createPool` starts workers that are attached to the layer, and a
// task file gets the bus with `import { workerLayer } from 'ringbus/worker'`. Here each task
// drains a batch of words from a channel and answers on a channel of the main thread.
// Run: node examples/pool-pipeline/main.mjs
import { createLayer } from 'ringbus';
import { createPool } from 'ringbus/pool';

const layer = await createLayer();
const pool = createPool(layer, { filename: new URL('./task.mjs', import.meta.url).href, maxThreads: 2 });
const replies = await layer.newChannel('replies');

const words = ['ring', 'bus', 'lock', 'free', 'shared', 'memory'];
for (const word of words) await layer.send('words', { type: 'word', word });

// Two tasks, three words each: the workers receive from the bus, not from the task arguments.
await Promise.all([pool.run({ take: 3, replies }), pool.run({ take: 3, replies })]);

const upper = [];
for (let i = 0; i < words.length; i++) upper.push((await layer.receive(replies, { timeout: 5000 })).word);
console.log(upper.sort().join(' '));

await pool.destroy();
await layer.close();

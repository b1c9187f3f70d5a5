// Run by outage.test.ts: use a Redis layer (send, receive, a receive left pending, a group
// send), close it, and do nothing else. The process must then exit by itself: any socket
// or timer left behind by the layer would keep it alive.
import { createLayer } from '../../dist/index.js';

const layer = await createLayer({ backend: 'redis', hosts: [process.argv[2]], prefix: `exit${process.pid}:` });
const me = await layer.newChannel();
await layer.send('exit.plain', { n: 1 });
await layer.receive('exit.plain');
await layer.groupAdd('exit.group', me);
await layer.groupSend('exit.group', { n: 2 });
await layer.receive(me);
const pending = layer.receive('exit.never').catch((err) => err.code);
await new Promise((r) => setTimeout(r, 50));
await layer.flush();
await layer.close();
console.log(await pending);

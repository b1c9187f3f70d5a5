// Runs two machines (two Node processes, two worker threads each) against the Redis of
// REDIS_URL and prints what each worker heard. Run: REDIS_URL=redis://127.0.0.1:6379 node examples/hybrid/run-demo.mjs
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const machine = fileURLToPath(new URL('./machine.mjs', import.meta.url));
const run = (name) =>
  new Promise((resolve, reject) => {
    execFile(process.execPath, [machine, name, 'a,b'], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`machine ${name} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
const outputs = await Promise.all([run('a'), run('b')]);
process.stdout.write(outputs.join(''));

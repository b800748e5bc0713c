// The queue benchmark's baseline (scripts/bench-report.sh): Graphile Worker draining
// BENCH_JOBS no-op jobs with concurrency BENCH_CONCURRENCY on DATABASE_URL, the same job count
// and worker count as railhook's bench-queue, on the same cluster. Jobs are added first (in
// batches, before the workers start), then the clock runs from start until the last success.
// Prints one line: "GRAPHILE jobs=N seconds=S rate=R version=V".
import { Logger, makeWorkerUtils, run } from "graphile-worker";
import { readFileSync } from "node:fs";

const version = JSON.parse(
  readFileSync(new URL("./node_modules/graphile-worker/package.json", import.meta.url)),
).version;
const connectionString = process.env.DATABASE_URL;
const jobs = Number(process.env.BENCH_JOBS || 20000);
const concurrency = Number(process.env.BENCH_CONCURRENCY || 10);
const quiet = { logger: new Logger(() => () => {}) };

async function drain(n) {
  const utils = await makeWorkerUtils({ connectionString, ...quiet });
  await utils.migrate();
  for (let i = 0; i < n; i += 1000) {
    const batch = [];
    for (let k = i; k < Math.min(n, i + 1000); k++) batch.push({ identifier: "noop", payload: { seq: k } });
    await utils.addJobs(batch);
  }
  await utils.release();

  let done = 0;
  let finish;
  const allDone = new Promise((resolve) => (finish = resolve));
  const t0 = process.hrtime.bigint();
  const runner = await run({
    connectionString,
    concurrency,
    noHandleSignals: true,
    pollInterval: 1000,
    taskList: {
      noop: async () => {
        if (++done === n) finish();
      },
    },
    ...quiet,
  });
  await allDone;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await runner.stop();
  return secs;
}

await drain(100); // warm-up: the schema, the prepared statements, the JIT
const secs = await drain(jobs);
console.log(`GRAPHILE jobs=${jobs} seconds=${secs.toFixed(2)} rate=${(jobs / secs).toFixed(0)} version=${version}`);

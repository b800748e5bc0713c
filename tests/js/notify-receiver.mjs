// A webhook receiver for tests/integration/test_notify.c: verifies every notification with the
// `standardwebhooks` library (a real Standard Webhooks implementation, not railhook's) and
// logs each request as one JSON line. Usage:
//   node notify-receiver.mjs <port> <log.jsonl> <mode>
// mode: "ok" (200), "fail:N" (500 to the first N requests, then 200), "busy:N" (429 with
// Retry-After: 2 to the first N, then 200), "reject" (400), "stall" (read the request, never
// answer). It prints "listening" once it listens.
// With $RAILHOOK_TEST_TMP and NOTIFY_RECEIVER_KEEP=1, each verified body is also kept in
// notifications/<pid>.jsonl for check-responses.mjs, which validates it against openapi.yaml's
// webhooks.jobEvent (the tests' own job kinds are not in its JobKind, so only jobs of real
// kinds are kept).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';

const [port, log, mode] = process.argv.slice(2);
const secret = process.env.NOTIFY_SIGNING_SECRET;
const wh = new Webhook(secret.replace(/^whsec_/, ''));
const failFirst = mode.startsWith('fail:') ? Number(mode.slice(5)) : 0;
const busyFirst = mode.startsWith('busy:') ? Number(mode.slice(5)) : 0;
const keepDir = process.env.NOTIFY_RECEIVER_KEEP === '1' && process.env.RAILHOOK_TEST_TMP && path.join(process.env.RAILHOOK_TEST_TMP, 'notifications');
if (keepDir) fs.mkdirSync(keepDir, { recursive: true });
let seen = 0;

const server = http.createServer((req, res) => {
  if (req.method !== 'POST') { res.end('ready'); return; } // the test's readiness probe (HEAD)
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    let verified = false;
    let error = null;
    try {
      wh.verify(body, req.headers);
      verified = true;
    } catch (e) {
      error = String(e.message || e);
    }
    seen++;
    let status = 200;
    if (mode === 'reject') status = 400;
    else if (seen <= failFirst) status = 500;
    else if (seen <= busyFirst) status = 429;
    const id = req.headers['webhook-id'];
    let type = null;
    try { type = JSON.parse(body).type; } catch { /* logged as null */ }
    fs.appendFileSync(log, JSON.stringify({ id, verified, error, status, type, stalled: mode === 'stall',
      timestamp: req.headers['webhook-timestamp'] }) + '\n');
    if (verified && keepDir) fs.appendFileSync(path.join(keepDir, `${process.pid}.jsonl`), body + '\n');
    if (mode === 'stall') return; // never answer: the sender's timeout must end it
    res.writeHead(status, { 'content-type': 'text/plain', ...(status === 429 ? { 'retry-after': '2' } : {}) });
    res.end(status === 200 ? 'ok' : `no (${status})`);
  });
});
server.listen(Number(port), '127.0.0.1', () => console.log('listening'));

// The status page (GET /) in headless Chromium against a real railhook, a real PostgreSQL and
// the Railway simulator: a Supabase INSERT delivery (built here as pg_net sends it) becomes a
// provision job that the page lists and follows to `succeeded` with its event timeline; a job
// provisioned while the page is open appears and succeeds without a reload (and, when the
// server has GET /events, without the page polling GET /jobs); the counts match GET
// /jobs/counts and the fleet matches GET /services; a failed job shows its log lines and offers
// Retry, which a read token may not use and an admin token re-queues; a running job offers
// Cancel; the keyboard reaches and works every main control with a visible focus; axe-core
// finds no WCAG 2 A/AA violation (contrast included) in the list, a job's timeline and the
// fleet. A real INSERT body beside the checkout ($RAILHOOK_FIXTURES, else ../shared/fixtures)
// is an extra case when present.
//
// Usage: node tests/browser/status-page.mjs [BUILD_DIR]   (default build/debug)
// CTest (browser/status-page) runs it with scripts/test.sh's throwaway cluster
// (RAILHOOK_TEST_PGURL and RAILHOOK_TEST_TEMPLATE); run alone, it starts a cluster of its own
// with scripts/pg.sh.
// Screenshots go to $RAILHOOK_BROWSER_OUT, else to the test tmp folder. Ends with the line
// "browser: N passed, N failed" and exits non-zero on any failure. Needs Debian's chromium.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const build = path.resolve(root, process.argv[2] || 'build/debug');
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
// A real Supabase INSERT body that may sit beside the checkout: an extra case when present.
const realFixtures = process.env.RAILHOOK_FIXTURES || path.resolve(root, '../shared/fixtures');
const realInsert = path.join(realFixtures, 'supabase/manifests.insert.body.json');

let passed = 0;
let failed = 0;
const children = [];
const cleanups = [];

function summary() {
  console.log(`browser: ${passed} passed, ${failed} failed`);
}

function killChildren() {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        c.kill('SIGTERM');
      } catch {
        // already gone
      }
    }
  }
}
process.on('exit', killChildren);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killChildren();
    process.exit(1);
  });
}

async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`  ok   ${name}`);
    return true;
  } catch (e) {
    failed++;
    console.log(`  FAIL ${name}: ${e && e.message ? e.message.split('\n')[0] : e}`);
    return false;
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args[0] || ''} failed: ${(r.stderr || r.stdout || '').trim()}`);
  }
  return r.stdout.trim();
}

function start(cmd, args, env, logPath) {
  const log = fs.openSync(logPath, 'a');
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', log] });
  fs.closeSync(log);
  children.push(child);
  return child;
}

async function waitFor(what, fn, timeoutMs, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (${last.message})` : ''}`);
}

// A throwaway database cloned from the migrated template (a cluster of our own when run alone).
async function database(tmp) {
  let base = process.env.RAILHOOK_TEST_PGURL;
  let template = process.env.RAILHOOK_TEST_TEMPLATE;
  if (!base) {
    const port = await freePort();
    const dir = path.join(tmp, 'pg');
    run(path.join(root, 'scripts/pg.sh'), ['start', dir, String(port), 'fast']);
    cleanups.push(() => spawnSync(path.join(root, 'scripts/pg.sh'), ['stop', dir]));
    base = `postgresql://railhook@127.0.0.1:${port}`;
    template = 'railhook_browser_template';
    run('psql', ['-q', `${base}/postgres`, '-c', `CREATE DATABASE ${template}`]);
    run(path.join(build, 'railhook'), ['migrate'], {
      env: { ...process.env, DATABASE_URL: `${base}/${template}`, LOG_LEVEL: 'warn' },
    });
  }
  const name = `browser_${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
  run('psql', ['-q', `${base}/postgres`, '-c', `CREATE DATABASE ${name} TEMPLATE ${template}`]);
  cleanups.unshift(() =>
    spawnSync('psql', ['-q', `${base}/postgres`, '-c', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]),
  );
  return `${base}/${name}`;
}

// Starts the Railway simulator and resolves with its GraphQL URL (its first stdout line).
async function startSim(tmp, flags) {
  const child = start(path.join(build, 'railway-sim'), ['--port', '0', '--quiet', ...flags], {},
    path.join(tmp, 'railway-sim.log'));
  const lines = readline.createInterface({ input: child.stdout });
  const url = await Promise.race([
    new Promise((resolve) => lines.once('line', (l) => resolve((l.match(/http:\/\/\S+/) || [])[0]))),
    sleep(10000).then(() => null),
  ]);
  if (!url) throw new Error('railway-sim did not start');
  return url;
}

async function simConfig(simUrl, config) {
  const r = await fetch(new URL('/_sim/config', simUrl), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(config),
  });
  assert(r.ok, `/_sim/config answered ${r.status}`);
}

// PostgreSQL's jsonb text, which pg_net puts on the wire: object keys shorter first, then
// bytewise; ", " and ": " between items; one line; non-ASCII as raw UTF-8.
function jsonbText(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `[${v.map(jsonbText).join(', ')}]`;
  if (typeof v === 'object') {
    const keys = Object.keys(v).sort((a, b) => {
      const x = Buffer.from(a);
      const y = Buffer.from(b);
      return x.length - y.length || Buffer.compare(x, y);
    });
    return `{${keys.map((k) => `${JSON.stringify(k)}: ${jsonbText(v[k])}`).join(', ')}}`;
  }
  return JSON.stringify(v);
}

// The body Supabase's database webhook posts for a new public.manifests row.
function supabaseInsert(id, schema) {
  const at = new Date().toISOString().replace('Z', '+00:00');
  const record = {
    id,
    service_schema: schema,
    status: 'pending',
    spec: { image: 'ghcr.io/acme-labs/ledger:3.0.4', replicas: 1, env: { LOG_LEVEL: 'info' } },
    created_at: at,
    updated_at: at,
  };
  const body = { old_record: null, record, type: 'INSERT', table: 'manifests', schema: 'public' };
  return jsonbText(body);
}

async function main() {
  if (!fs.existsSync(chromiumPath)) {
    console.log(`browser: ${chromiumPath} is missing (scripts/deps.sh test installs chromium)`);
    failed++;
    return 1;
  }
  // playwright-core and axe-core live with the other Node tools in tests/js (package.json).
  const requireJs = createRequire(path.join(root, 'tests/js/package.json'));
  const { chromium } = requireJs('playwright-core');
  const axeSource = fs.readFileSync(requireJs.resolve('axe-core/axe.min.js'), 'utf8');
  const tmpBase = process.env.RAILHOOK_TEST_TMP || os.tmpdir();
  const tmp = fs.mkdtempSync(path.join(tmpBase, 'browser-'));
  fs.chmodSync(tmp, 0o755);
  const outDir = process.env.RAILHOOK_BROWSER_OUT || tmp;
  fs.mkdirSync(outDir, { recursive: true });

  const secrets = {
    supabase: `sb-${crypto.randomBytes(12).toString('hex')}`,
    read: `read-${crypto.randomBytes(12).toString('hex')}`,
    admin: `admin-${crypto.randomBytes(12).toString('hex')}`,
  };
  const dbUrl = await database(tmp);
  const simUrl = await startSim(tmp, ['--build-ms', '800', '--instance-delay-ms', '200',
    '--fail-builds', 'broken']);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const railhookLog = path.join(tmp, 'railhook.log');
  const railhook = start(path.join(build, 'railhook'), ['serve'], {
    PORT: String(port),
    BIND_ADDRESS: '127.0.0.1',
    DATABASE_URL: dbUrl,
    LOG_LEVEL: 'info',
    RAILWAY_API_URL: simUrl,
    RAILWAY_TOKEN: 'sim-account-token',
    RAILWAY_PROJECT_ID: 'proj-sim',
    RAILWAY_ENVIRONMENT_ID: 'env-sim',
    WORKER_REPO: 'acme/osp',
    SUPABASE_WEBHOOK_SECRET: secrets.supabase,
    API_TOKEN: secrets.read,
    API_ADMIN_TOKEN: secrets.admin,
    DEPLOY_POLL_MIN_MS: '200',
    DEPLOY_POLL_MAX_MS: '500',
    RAILWAY_MAX_RPS: '50',
    QUEUE_POLL_MS: '200',
    JOB_LEASE_S: '3',
    WORKERS: '2',
  }, railhookLog);
  railhook.stdout.resume();
  await waitFor('railhook /healthz', async () => (await fetch(`${base}/healthz`)).ok, 15000);

  // POSTs a body with the headers pg_net sends for a Dashboard-made webhook.
  const post = async (body) => {
    const r = await fetch(`${base}/webhooks/supabase`, {
      method: 'POST',
      headers: {
        'Content-type': 'application/json',
        Authorization: `Bearer ${secrets.supabase}`,
        'User-Agent': 'pg_net/0.19.5',
      },
      body,
    });
    const j = await r.json();
    assert(r.status === 202, `POST /webhooks/supabase answered ${r.status}: ${JSON.stringify(j)}`);
    assert(j.job_ids && j.job_ids.length === 1, `expected one job id: ${JSON.stringify(j)}`);
    return j.job_ids[0];
  };
  const deliver = (schema) => post(supabaseInsert(crypto.randomUUID(), schema));

  const profile = path.join(tmp, 'chromium-profile');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 820 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  cleanups.unshift(() => context.close().catch(() => {}));
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(15000);
  const foreign = [];
  page.on('request', (req) => {
    if (!req.url().startsWith(`${base}/`)) foreign.push(req.url());
  });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));

  const detailState = () => page.locator('#detail-state');
  const openJob = async (id) => {
    await page.locator(`#jobs tr[data-id="${id}"]`).click();
    // The panel may still show the job selected before until this one's detail arrives.
    await page.waitForFunction((want) => {
      const dd = document.querySelector('#detail dd');
      return dd !== null && dd.textContent === want;
    }, id).catch(() => {});
    await detailState().waitFor();
    assert((await page.locator('#detail dd').first().textContent()) === id, 'detail shows another job');
  };
  const useToken = async (t) => {
    await page.fill('#token', t);
    await page.click('#save-token');
  };
  const apiGet = async (p, t) => {
    const r = await fetch(`${base}${p}`, { headers: { Authorization: `Bearer ${t}` } });
    assert(r.ok, `GET ${p} answered ${r.status}`);
    return r.json();
  };
  // axe-core in the page: no violation of the WCAG 2.0/2.1 A and AA rules in what is shown.
  const axe = async (name) => {
    if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
    const result = await page.evaluate(() => window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    }));
    const v = result.violations.map((x) => `${x.id} (${x.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`);
    assert(v.length === 0, `${name}: ${v.join('; ')}`);
    assert(result.passes.some((x) => x.id === 'color-contrast'), `${name}: color-contrast did not run`);
  };
  // Every GET /jobs (the list, not one job) the page sends, and every reload.
  const listRequests = [];
  page.on('request', (req) => {
    const u = new URL(req.url());
    if (req.method() === 'GET' && u.pathname === '/jobs') listRequests.push(Date.now());
  });
  let navigations = 0;
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations++; });

  let provisionId = null;
  await check('a Supabase INSERT delivery is accepted as one job', async () => {
    provisionId = await deliver('ledger_page');
  });

  if (fs.existsSync(realInsert)) {
    await check('the real Supabase INSERT body is printed the same way and accepted', async () => {
      const real = fs.readFileSync(realInsert, 'utf8');
      assert(jsonbText(JSON.parse(real)) === real, 'jsonb text differs from the real body');
      await post(real);
    });
  }

  await check('the page loads from the binary and asks for a token', async () => {
    const r = await page.goto(`${base}/`);
    assert(r.status() === 200, `GET / answered ${r.status()}`);
    assert((await page.title()).startsWith('railhook'), 'unexpected title');
    await page.locator('#status', { hasText: 'token' }).waitFor();
  });

  await check('with the read token the provision job is listed', async () => {
    await useToken(secrets.read);
    await page.locator(`#jobs tr[data-id="${provisionId}"]`).waitFor();
    const cells = await page.locator(`#jobs tr[data-id="${provisionId}"] td`).allTextContents();
    assert(cells[1].startsWith('provision'), `kind cell: ${cells[1]}`);
    // Its button says which job it opens, beginning with what it shows.
    const name = await page.getByRole('button', { name: 'provision job of osp-worker-ledger_page' }).count();
    assert(name === 1, 'no button named for the job');
    assert(cells[2] === 'osp-worker-ledger_page', `service cell: ${cells[2]}`);
  });

  await check('the counts by state match GET /jobs/counts', async () => {
    let last = '';
    await waitFor('the page to show the API\'s counts', async () => {
      const api = await apiGet('/jobs/counts', secrets.read);
      const shown = {};
      for (const s of ['queued', 'running', 'succeeded', 'failed', 'cancelled']) {
        shown[s] = Number(await page.locator(`#count-${s} .n`).textContent());
      }
      last = `page ${JSON.stringify(shown)} api ${JSON.stringify(api)}`;
      return Object.keys(shown).every((s) => shown[s] === api[s]) &&
        Object.values(api).reduce((a, b) => a + b, 0) > 0;
    }, 15000, 500).catch((e) => { throw new Error(`${e.message}: ${last}`); });
  });

  await check('axe-core: the job list has no WCAG A/AA violation', async () => {
    await axe('list');
  });

  await check('the job detail follows it to succeeded with the provision steps', async () => {
    await openJob(provisionId);
    await page.locator('#detail-state', { hasText: 'succeeded' }).waitFor({ timeout: 60000 });
    const events = await page.locator('#detail ol.timeline li').allTextContents();
    for (const step of ['validate', 'create_service', 'configure', 'wait_deploy']) {
      assert(events.some((e) => e.includes(step + ':')), `no ${step} event in ${JSON.stringify(events)}`);
    }
    assert(events.some((e) => e.includes('provisioned')), 'no "provisioned" event');
    assert((await page.locator('#retry, #cancel').count()) === 0, 'a finished job offers actions');
    const row = page.locator(`#jobs tr[data-id="${provisionId}"] td.state`);
    await row.filter({ hasText: 'succeeded' }).waitFor({ timeout: 10000 });
    await page.screenshot({ path: path.join(outDir, 'status-page-succeeded.png'), fullPage: true });
  });

  await check('a job provisioned while the page is open appears and succeeds without a reload', async () => {
    // The stream is there when a ticket can be had; then the page must be live and not poll.
    const ticket = await fetch(`${base}/events/ticket`, {
      method: 'POST', headers: { Authorization: `Bearer ${secrets.read}` },
    });
    const streamed = ticket.status === 201;
    if (streamed) {
      await page.locator('body[data-stream="live"]').waitFor({ timeout: 15000 });
    } else {
      console.log(`       (POST /events/ticket answered ${ticket.status}: no stream here, the page polls)`);
    }
    await page.evaluate(() => { window.railhookNoReload = true; });
    const navBefore = navigations;
    const listBefore = listRequests.length;
    const liveId = await deliver('live_page');
    const row = page.locator(`#jobs tr[data-id="${liveId}"]`);
    await row.waitFor({ timeout: 15000 });
    await row.locator('td.state', { hasText: 'succeeded' }).waitFor({ timeout: 60000 });
    // Screen readers hear it through the polite live region.
    await page.locator('#announce[aria-live="polite"]', { hasText: 'osp-worker-live_page succeeded' })
      .waitFor({ timeout: 5000 });
    assert(navigations === navBefore && await page.evaluate(() => window.railhookNoReload === true),
      'the page reloaded');
    const polled = listRequests.length - listBefore;
    if (streamed) {
      assert(await page.evaluate(() => document.body.dataset.stream) === 'live', 'the stream dropped');
      assert(polled === 0, `${polled} GET /jobs while the stream was connected`);
    } else {
      assert(polled > 0, 'without a stream the page did not poll');
    }
  });

  let brokenId = null;
  await check('a failed job shows its error, its build log lines and a Retry button', async () => {
    brokenId = await deliver('broken_page');
    await page.locator(`#jobs tr[data-id="${brokenId}"]`).waitFor({ timeout: 10000 });
    await openJob(brokenId);
    await page.locator('#detail-state', { hasText: 'failed' }).waitFor({ timeout: 60000 });
    await page.locator('#detail .job-error', { hasText: 'deploy_failed' }).waitFor();
    await page.locator('#detail ol.timeline li.error').first().waitFor();
    // The build log's last lines say why: the simulator's default fail_log (npm's error).
    const log = page.locator('#detail-log');
    await log.waitFor({ timeout: 10000 });
    const text = await log.textContent();
    assert(text.includes('npm ERR! Missing script: "start"'), `the log lines are missing: ${text}`);
    await page.locator('#retry').waitFor();
    await page.screenshot({ path: path.join(outDir, 'status-page-failed.png'), fullPage: true });
  });

  await check('axe-core: a failed job\'s timeline with its log has no WCAG A/AA violation', async () => {
    await axe('timeline');
  });

  await check('the fleet view matches GET /services, with links to Railway', async () => {
    let last = '';
    await waitFor('the fleet to match', async () => {
      const api = await apiGet('/services', secrets.read);
      const want = api.services.map((s) => ({
        name: s.name,
        id: s.railway_service_id || '—',
        status: s.status,
        deployment: (s.last_deployment && s.last_deployment.status) || '—',
        job: s.last_job ? `#job=${s.last_job.id}` : null,
        link: s.railway_service_id ? `https://railway.com/project/${api.railway.project_id}/service/` +
          `${s.railway_service_id}?environmentId=${api.railway.environment_id}` : null,
      }));
      const shown = await page.$$eval('#fleet tr[data-name]', (rows) => rows.map((tr) => ({
        name: tr.querySelector('.service-name').textContent,
        id: tr.querySelector('.rw-id').textContent,
        status: tr.querySelector('.service-status').textContent,
        deployment: tr.querySelector('.deploy-status').textContent,
        job: tr.querySelector('a.last-job') ? tr.querySelector('a.last-job').getAttribute('href') : null,
        link: tr.querySelector('.railway-id a') ? tr.querySelector('.railway-id a').href : null,
      })));
      last = `page ${JSON.stringify(shown)} api ${JSON.stringify(want)}`;
      return want.length >= 3 && JSON.stringify(shown) === JSON.stringify(want);
    }, 15000, 500).catch((e) => { throw new Error(`${e.message}: ${last}`); });
    const broken = page.locator('#fleet tr[data-name="osp-worker-broken_page"]');
    assert((await broken.locator('.deploy-status').textContent()) === 'FAILED', 'broken_page is not FAILED');
    // The last job's link opens its timeline.
    await page.locator('#fleet tr[data-name="osp-worker-ledger_page"] a.last-job').click();
    await page.waitForFunction(() => document.querySelector('#detail dd') &&
      document.querySelector('#detail-state') && location.hash.startsWith('#job='));
    await page.screenshot({ path: path.join(outDir, 'status-page-fleet.png'), fullPage: true });
  });

  await check('axe-core: the fleet has no WCAG A/AA violation', async () => {
    await axe('fleet');
  });

  await check('Retry with the read token is refused and changes nothing', async () => {
    await openJob(brokenId);
    await page.click('#retry');
    await page.locator('#notice', { hasText: 'admin token' }).waitFor();
    await sleep(500);
    assert((await detailState().textContent()) === 'failed', 'the state changed');
  });

  await check('Retry with the admin token re-queues the job, which then succeeds', async () => {
    await simConfig(simUrl, { fail_builds: null });
    await useToken(secrets.admin);
    await page.locator('#retry').waitFor();
    await page.click('#retry');
    await page.locator('#notice', { hasText: 'retried: queued' }).waitFor();
    await waitFor('the detail to leave failed', async () =>
      (await detailState().textContent()) !== 'failed', 10000);
    await page.locator('#detail ol.timeline li', { hasText: 'retried' }).waitFor();
    await page.locator('#detail-state', { hasText: 'succeeded' }).waitFor({ timeout: 60000 });
  });

  await check('a running job shows Cancel, and Cancel stops it', async () => {
    await simConfig(simUrl, { build_ms: 600000 });
    const slowId = await deliver('slow_page');
    await page.locator(`#jobs tr[data-id="${slowId}"]`).waitFor({ timeout: 10000 });
    await openJob(slowId);
    await page.locator('#detail-state', { hasText: 'running' }).waitFor({ timeout: 30000 });
    await page.locator('#cancel').waitFor();
    await page.click('#cancel');
    await page.locator('#notice', { hasText: 'cancel requested' }).waitFor();
    await page.locator('#detail-state', { hasText: 'cancelled' }).waitFor({ timeout: 30000 });
    assert((await page.locator('#retry').count()) === 1, 'a cancelled job offers no Retry');
    await page.screenshot({ path: path.join(outDir, 'status-page-cancelled.png'), fullPage: true });
  });

  await check('the keyboard reaches and works the main controls, with a visible focus', async () => {
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await page.locator('#jobs button[data-open]').first().waitFor();
    const seen = [];
    // Tabs forward until want(focused element) holds; every stop must show its focus.
    const tabTo = async (want, what, key = 'Tab') => {
      for (let i = 0; i < 200; i++) {
        await page.keyboard.press(key);
        const f = await page.evaluate(() => {
          const e = document.activeElement;
          const s = getComputedStyle(e);
          return { id: e.id, open: e.getAttribute('data-open'), state: e.getAttribute('data-state'),
            tag: e.tagName, cls: e.className, text: (e.textContent || '').trim().slice(0, 40),
            outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 };
        });
        seen.push(f.id || f.open || f.state || f.text);
        assert(f.outline || f.tag === 'BODY', `no visible focus on ${JSON.stringify(f)}`);
        if (want(f)) return f;
      }
      throw new Error(`Tab never reached ${what}: ${seen.slice(-20).join(' | ')}`);
    };
    // The skip link comes first and moves the focus to the jobs.
    const skip = await tabTo((f) => f.cls === 'skip', 'the skip link');
    assert(skip.text === 'Skip to jobs', `the skip link: ${JSON.stringify(skip)}`);
    await page.keyboard.press('Enter');
    assert(await page.evaluate(() => document.activeElement.id) === 'jobs-title', 'skip link went elsewhere');
    // Back to the token form: typed and sent with Enter.
    await tabTo((f) => f.id === 'token', 'the token field', 'Shift+Tab');
    await page.keyboard.type(secrets.admin);
    await page.keyboard.press('Enter');
    await waitFor('the token to be taken', async () => (await page.inputValue('#token')) === '', 5000, 100);
    // A count filters the list with Space, and again clears it.
    await tabTo((f) => f.state === 'cancelled', 'the cancelled count');
    await page.keyboard.press('Space');
    await page.locator('#count-cancelled[aria-pressed="true"]').waitFor();
    await waitFor('only cancelled jobs listed', async () => {
      const states = await page.locator('#jobs td.state').allTextContents();
      return states.length > 0 && states.every((s) => s === 'cancelled');
    }, 10000);
    assert((await page.inputValue('#f-state')) === 'cancelled', 'the state filter did not follow');
    await page.keyboard.press('Space');
    await page.locator('#count-cancelled[aria-pressed="false"]').waitFor();
    await tabTo((f) => f.id === 'f-state', 'the state filter');
    await tabTo((f) => f.id === 'f-kind', 'the kind filter');
    // A job opens with Enter on its row's button.
    const job = await tabTo((f) => f.open && f.open !== (brokenId || ''), 'a job');
    await page.keyboard.press('Enter');
    await page.waitForFunction((want) => {
      const dd = document.querySelector('#detail dd');
      return dd !== null && dd.textContent === want;
    }, job.open);
    // Then the detail's controls and the fleet's links.
    await tabTo((f) => f.cls === 'last-job', 'a fleet link');
    await page.screenshot({ path: path.join(outDir, 'status-page-keyboard.png') });
  });

  await check('the page made no request beyond railhook and raised no script error', async () => {
    assert(foreign.length === 0, `requests elsewhere: ${foreign.slice(0, 3).join(', ')}`);
    assert(pageErrors.length === 0, `script errors: ${pageErrors.slice(0, 3).join('; ')}`);
  });

  await context.close();
  killChildren();
  await waitFor('railhook to exit', async () => railhook.exitCode !== null || railhook.signalCode !== null, 10000, 100);

  await check('no token or webhook secret reached the log', async () => {
    const log = fs.readFileSync(railhookLog, 'utf8');
    for (const [name, value] of Object.entries(secrets)) {
      assert(!log.includes(value), `the ${name} secret is in railhook's log`);
    }
  });

  if (failed > 0) {
    const log = fs.readFileSync(railhookLog, 'utf8').split('\n').slice(-15).join('\n');
    console.log(`railhook's last log lines:\n${log}`);
  }
  console.log(process.env.RAILHOOK_BROWSER_OUT ? `screenshots: ${outDir}`
    : 'screenshots: set RAILHOOK_BROWSER_OUT=DIR to keep them (the test tmp folder goes)');
  return failed ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  failed++;
  console.log(`browser: setup failed: ${e && e.stack ? e.stack : e}`);
  code = 1;
} finally {
  killChildren();
  for (const c of cleanups) {
    try {
      await c();
    } catch {
      // best effort
    }
  }
}
summary();
process.exit(code);

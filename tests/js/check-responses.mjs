// Checks every HTTP response the integration tests recorded against openapi.yaml: the
// path and method exist, the status is documented, and a JSON body matches its schema.
// Usage: node check-responses.mjs [responses-dir]   (default: $RAILHOOK_TEST_TMP/responses)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dir = process.argv[2] ||
  (process.env.RAILHOOK_TEST_TMP && path.join(process.env.RAILHOOK_TEST_TMP, 'responses'));
const spec = YAML.parse(fs.readFileSync(path.join(root, 'openapi.yaml'), 'utf8'));

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: 'openapi', components: spec.components });

const deref = (obj) => {
  while (obj && obj.$ref) {
    const parts = obj.$ref.replace(/^#\//, '').split('/');
    obj = parts.reduce((o, k) => o[k], spec);
  }
  return obj;
};
// Rewrites local refs so they resolve inside the schema registered as "openapi".
const rebase = (schema) => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/'));

// Literal paths first: /jobs/counts is not a /jobs/{id}.
const templates = Object.keys(spec.paths).map((p) => ({
  template: p,
  re: new RegExp('^' + p.replace(/\{[^}]+\}/g, '[^/]+') + '$'),
})).sort((a, b) => a.template.includes('{') - b.template.includes('{'));

const validators = new Map();
let passed = 0;
let failed = 0;
let skipped = 0;
const files = dir && fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl')) : [];
for (const file of files) {
  for (const line of fs.readFileSync(path.join(dir, file), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const rec = JSON.parse(line);
    const fail = (why) => {
      failed++;
      console.log(`FAIL ${rec.method} ${rec.path} ${rec.status}: ${why}`);
    };
    if (rec.status === 0 || rec.method === 'OPTIONS' || rec.method === 'HEAD') { skipped++; continue; }
    const match = templates.find((t) => t.re.test(rec.path));
    if (!match) {
      // Unknown paths must be answered 404 with the error body.
      if (rec.status !== 404) { fail('path not in openapi.yaml'); continue; }
      const v = ajv.compile(rebase({ $ref: '#/components/schemas/Error' }));
      if (!v(JSON.parse(rec.body))) fail(ajv.errorsText(v.errors)); else passed++;
      continue;
    }
    // The server refuses some requests before routing (body over the cap): any path may
    // answer them, always with the error body.
    if (rec.status === 413) {
      const v = ajv.compile(rebase({ $ref: '#/components/schemas/Error' }));
      if (!v(JSON.parse(rec.body))) fail(ajv.errorsText(v.errors)); else passed++;
      continue;
    }
    const op = spec.paths[match.template][rec.method.toLowerCase()];
    if (!op) {
      if (rec.status === 405) { passed++; continue; }
      fail('method not in openapi.yaml');
      continue;
    }
    const resp = deref(op.responses[String(rec.status)]);
    if (!resp) { fail(`status ${rec.status} not documented`); continue; }
    if (!resp.content) {
      if (rec.body.length > 0) fail('documented without a body, but one came'); else passed++;
      continue;
    }
    const mediaType = rec.content_type.split(';')[0].trim();
    const media = resp.content[mediaType];
    if (!media) { fail(`content type ${mediaType} not documented`); continue; }
    if (mediaType !== 'application/json') { passed++; continue; }
    let body;
    try { body = JSON.parse(rec.body); } catch { fail('body is not JSON'); continue; }
    const key = `${match.template} ${rec.method} ${rec.status} ${mediaType}`;
    if (!validators.has(key)) validators.set(key, ajv.compile(rebase(media.schema)));
    const v = validators.get(key);
    if (!v(body)) fail(ajv.errorsText(v.errors)); else passed++;
  }
}
// Every notification body a test receiver verified (tests/js/notify-receiver.mjs), against
// the jobEvent webhook.
const notifyDir = dir && path.join(path.dirname(dir), 'notifications');
const notifyFiles = notifyDir && fs.existsSync(notifyDir) ? fs.readdirSync(notifyDir).filter((f) => f.endsWith('.jsonl')) : [];
if (notifyFiles.length) {
  const v = ajv.compile(rebase(spec.webhooks.jobEvent.post.requestBody.content['application/json'].schema));
  for (const file of notifyFiles) {
    for (const line of fs.readFileSync(path.join(notifyDir, file), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      if (!v(JSON.parse(line))) {
        failed++;
        console.log(`FAIL webhook jobEvent: ${ajv.errorsText(v.errors)}`);
      } else passed++;
    }
  }
}
console.log(`openapi: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (passed + failed === 0) console.log('openapi: no responses were recorded');
process.exit(failed ? 1 : 0);

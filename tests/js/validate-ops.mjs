// Validates railhook's GraphQL documents (railway/ops/*.graphql) against Railway's public schema.
//
// usage: node validate-ops.mjs [introspection.json] [--self-test]
//
// Each document must validate and hold exactly one named operation. Prints one line per document
// and a closing "N passed, N failed"; exits 1 on any failure. A missing schema file is a skip
// (exit 0). --self-test also checks that a known-bad ServiceConnect document is rejected.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kind, buildClientSchema, parse, validate } from 'graphql';

const scriptDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(scriptDir, '..', '..');
const opsDir = join(repoRoot, 'railway', 'ops');

// The historical bug: serviceId inside the input, no id argument, no selection set on Service!.
const KNOWN_BAD = `
mutation ServiceConnect($serviceId: String!, $repo: String!) {
  serviceConnect(input: { serviceId: $serviceId, repo: $repo })
}
`;

function parseArgs(argv) {
    const opts = { schemaPath: null, selfTest: false };
    for (const arg of argv) {
        if (arg === '--self-test') {
            opts.selfTest = true;
        } else if (arg.startsWith('--')) {
            throw new Error(`unknown option ${arg}`);
        } else if (opts.schemaPath === null) {
            opts.schemaPath = resolve(arg);
        } else {
            throw new Error(`unexpected argument ${arg}`);
        }
    }
    if (opts.schemaPath === null) {
        opts.schemaPath = resolve(
            repoRoot,
            '..',
            'shared',
            'railway',
            'railway-public-schema.introspection.json',
        );
    }
    return opts;
}

function loadSchema(path) {
    const json = JSON.parse(readFileSync(path, 'utf8'));
    const introspection = json.data ?? json;
    return buildClientSchema(introspection);
}

// Returns a list of error strings; empty means the document is good.
function checkDocument(schema, source, name) {
    let doc;
    try {
        doc = parse(source, { noLocation: false });
    } catch (err) {
        return { errors: [`syntax: ${err.message}`], opName: null };
    }
    const errors = validate(schema, doc).map((e) => {
        const loc = e.locations && e.locations.length ? ` (line ${e.locations[0].line})` : '';
        return `${e.message}${loc}`;
    });
    const ops = doc.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
    let opName = null;
    if (ops.length !== 1) {
        errors.push(`expected exactly one operation in ${name}, found ${ops.length}`);
    } else if (!ops[0].name) {
        errors.push(`the operation in ${name} has no name`);
    } else {
        opName = ops[0].name.value;
    }
    return { errors, opName };
}

function runSelfTest(schema) {
    const { errors } = checkDocument(schema, KNOWN_BAD, 'self-test');
    if (errors.length === 0) {
        console.log('FAIL self-test: the known-bad ServiceConnect document validated');
        return false;
    }
    console.log('ok  self-test: known-bad ServiceConnect document rejected:');
    for (const e of errors) {
        console.log(`      ${e}`);
    }
    return true;
}

function main() {
    let opts;
    try {
        opts = parseArgs(process.argv.slice(2));
    } catch (err) {
        console.error(err.message);
        return 2;
    }
    if (!existsSync(opts.schemaPath)) {
        console.log(`SKIP: schema file not found at ${opts.schemaPath}`);
        return 0;
    }
    const schema = loadSchema(opts.schemaPath);

    let passed = 0;
    let failed = 0;
    const files = readdirSync(opsDir)
        .filter((f) => f.endsWith('.graphql'))
        .sort();
    if (files.length === 0) {
        console.log(`FAIL no .graphql files in ${opsDir}`);
        failed++;
    }
    for (const file of files) {
        const source = readFileSync(join(opsDir, file), 'utf8');
        const { errors, opName } = checkDocument(schema, source, file);
        if (errors.length === 0) {
            console.log(`ok  ${file} (${opName})`);
            passed++;
        } else {
            console.log(`FAIL ${file}`);
            for (const e of errors) {
                console.log(`      ${e}`);
            }
            failed++;
        }
    }
    if (opts.selfTest) {
        if (runSelfTest(schema)) {
            passed++;
        } else {
            failed++;
        }
    }
    console.log(`${passed} passed, ${failed} failed`);
    return failed === 0 ? 0 : 1;
}

process.exitCode = main();

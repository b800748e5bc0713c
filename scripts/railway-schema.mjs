// Reduces a GraphQL introspection result to names and types and writes it as railhook's
// snapshot of Railway's public schema (railway/schema/railway-schema.json), which the
// simulator serves and validates against and the tests check railhook's documents with.
//
// usage: node scripts/railway-schema.mjs INTROSPECTION.json|- [OUT]
//
// Kept: every type's kind and name, fields with their arguments and types, input fields,
// enum values, interfaces, possible types, directives, the root type names, default values
// and whether a field or enum value is deprecated. Dropped: descriptions, deprecation
// reasons, and every null or irrelevant member. Everything is sorted by name; one type per
// line, so a refresh shows as a diff of the types that changed.
//
// Refresh from Railway's live schema: railhook check asks for it with the document
// railway/ops/check_schema.graphql. Send the same document with your token and feed the
// answer to this script:
//
//   jq -n --rawfile q railway/ops/check_schema.graphql '{query: $q}' |
//     curl -sf https://backboard.railway.com/graphql/v2 -H 'Content-Type: application/json' \
//       -H "Authorization: Bearer $RAILWAY_TOKEN" --data-binary @- |
//     node scripts/railway-schema.mjs -
//
// then run the graphql and check_drift test suites and commit the snapshot.

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function typeRef(t) {
    const out = { kind: t.kind };
    if (t.name != null) out.name = t.name;
    if (t.ofType != null) out.ofType = typeRef(t.ofType);
    return out;
}

function inputValue(v) {
    const out = { name: v.name, type: typeRef(v.type) };
    if (v.defaultValue != null) out.defaultValue = v.defaultValue;
    return out;
}

const list = (items, fn) => (items == null ? undefined : items.map(fn).sort(byName));

function field(f) {
    return {
        name: f.name,
        args: list(f.args ?? [], inputValue),
        type: typeRef(f.type),
        isDeprecated: f.isDeprecated === true,
    };
}

function type(t) {
    return {
        kind: t.kind,
        name: t.name,
        fields: list(t.fields, field),
        inputFields: list(t.inputFields, inputValue),
        enumValues: list(t.enumValues, (e) => ({ name: e.name, isDeprecated: e.isDeprecated === true })),
        interfaces: list(t.interfaces, (i) => ({ kind: i.kind, name: i.name })),
        possibleTypes: list(t.possibleTypes, (p) => ({ kind: p.kind, name: p.name })),
    };
}

// Objects with their keys in alphabetical order, undefined members left out.
function sorted(v) {
    if (Array.isArray(v)) return v.map(sorted);
    if (v === null || typeof v !== 'object') return v;
    const out = {};
    for (const k of Object.keys(v).sort()) if (v[k] !== undefined) out[k] = sorted(v[k]);
    return out;
}

function main(argv) {
    if (argv.length < 1 || argv.length > 2) {
        console.error('usage: node scripts/railway-schema.mjs INTROSPECTION.json|- [OUT]');
        return 2;
    }
    const text = readFileSync(argv[0] === '-' ? 0 : argv[0], 'utf8');
    const json = JSON.parse(text);
    const schema = json?.data?.__schema ?? json?.__schema;
    if (!schema || !Array.isArray(schema.types)) {
        console.error(`${argv[0]}: not an introspection result (no __schema.types)`);
        return 1;
    }
    const root = (r) => (r == null ? null : { name: r.name });
    const head = sorted({
        directives: list(schema.directives, (d) => ({
            name: d.name,
            locations: [...(d.locations ?? [])].sort(),
            args: list(d.args ?? [], inputValue),
        })),
        mutationType: root(schema.mutationType),
        queryType: root(schema.queryType),
        subscriptionType: root(schema.subscriptionType),
    });
    const types = schema.types.map(type).sort(byName).map((t) => JSON.stringify(sorted(t)));
    const headText = JSON.stringify(head).slice(0, -1);
    const out = `{"data":{"__schema":${headText},"types":[\n${types.join(',\n')}\n]}}}\n`;
    const path = argv[1] ?? join(repoRoot, 'railway', 'schema', 'railway-schema.json');
    writeFileSync(path, out);
    console.log(`${path}: ${types.length} types, ${out.length} bytes`);
    return 0;
}

process.exitCode = main(process.argv.slice(2));

#!/usr/bin/env node
// Usage: node check.mjs URL SDL_PATH   (e.g. http://127.0.0.1:8080/graphql schema.graphql)
//
// For each case: build the introspection query with getIntrospectionQuery(options), POST it as
// JSON, require a response without `errors`, rebuild the schema with buildClientSchema and
// compare printSchema of it with printSchema(buildSchema(SDL)). Exits 1 if any case fails.
import fs from 'node:fs';
import * as graphql16 from 'graphql16';
import * as graphql17 from 'graphql17';
import * as graphqlGraphiQL4 from 'graphql-graphiql4';

const [url, sdlPath] = process.argv.slice(2);
if (!url || !sdlPath) {
  console.error('usage: node check.mjs URL SDL_PATH');
  process.exit(2);
}
const sdl = fs.readFileSync(sdlPath, 'utf8');

// Every option the GraphQL specification defines (September 2025 edition includes OneOf input
// objects); typeDepth and experimentalDirectiveDeprecation are left at their defaults.
const ALL_SPEC_OPTIONS = {
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
  oneOf: true, // graphql-js >= 16.9
};

// GraphiQL 4: latch's page (src/pages/graphiql.html) loads graphiql@4.1.2 dist/index.umd.js, which
// bundles graphql 16.11.0 (hence the graphql-graphiql4 alias), and passes no introspection props.
// @graphiql/react 0.34.1 dist/schema.js (createSchemaStore defaults, generateIntrospectionQuery;
// the same code is bundled in graphiql 4.1.2) then calls getIntrospectionQuery({
// inputValueDeprecation: false, schemaDescription: false }) and sends { query, operationName:
// 'IntrospectionQuery' }, which @graphiql/toolkit 0.11.3 dist/esm/create-fetcher/lib.js
// (createSimpleFetcher, chosen for that operationName by createFetcher.js) POSTs as JSON.
const GRAPHIQL4_OPTIONS = { inputValueDeprecation: false, schemaDescription: false };

const cases = [
  { name: `graphql ${graphql16.version}, no options`, gql: graphql16 },
  { name: `graphql ${graphql16.version}, all spec options`, gql: graphql16, options: ALL_SPEC_OPTIONS },
  { name: `graphql ${graphql17.version}, no options`, gql: graphql17 },
  { name: `graphql ${graphql17.version}, all spec options`, gql: graphql17, options: ALL_SPEC_OPTIONS },
  {
    name: `GraphiQL 4.1.2 (graphql ${graphqlGraphiQL4.version})`,
    gql: graphqlGraphiQL4,
    options: GRAPHIQL4_OPTIONS,
    operationName: 'IntrospectionQuery',
  },
];

async function runCase({ gql, options, operationName }) {
  const body = { query: gql.getIntrospectionQuery(options) };
  if (operationName) body.operationName = operationName;
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' }, // the only header GraphiQL's fetcher sets
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15000),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`HTTP ${res.status}, not JSON: ${text.slice(0, 300)}`);
  }
  if (json.errors) throw new Error(`HTTP ${res.status}, errors: ${JSON.stringify(json.errors)}`);
  if (!json.data?.__schema) throw new Error(`HTTP ${res.status}, no data.__schema: ${text.slice(0, 300)}`);

  const actual = gql.printSchema(gql.buildClientSchema(json.data));
  const expected = gql.printSchema(gql.buildSchema(sdl));
  if (actual !== expected) throw new Error(`introspected schema differs from ${sdlPath}\n${diff(expected, actual)}`);
}

// The differing lines (after the common prefix and suffix) with a little context:
// "-" is the SDL, "+" is the introspection result; at most 8 lines of each.
function diff(expected, actual) {
  const e = expected.split('\n');
  const a = actual.split('\n');
  let i = 0;
  while (i < e.length && i < a.length && e[i] === a[i]) i++;
  let k = 0;
  while (k < e.length - i && k < a.length - i && e[e.length - 1 - k] === a[a.length - 1 - k]) k++;
  const out = [`  first difference at line ${i + 1}:`];
  for (let j = Math.max(0, i - 3); j < i; j++) out.push(`    ${e[j]}`);
  for (const j of e.slice(i, e.length - k).slice(0, 8)) out.push(`  - ${j}`);
  for (const j of a.slice(i, a.length - k).slice(0, 8)) out.push(`  + ${j}`);
  return out.join('\n');
}

let failed = 0;
for (const c of cases) {
  try {
    await runCase(c);
    console.log(`ok    ${c.name}`);
  } catch (err) {
    failed++;
    console.log(`FAIL  ${c.name}: ${err.message}${err.cause ? ` (${err.cause.message ?? err.cause})` : ''}`);
  }
}
if (failed) {
  console.error(`${failed} of ${cases.length} introspection cases failed against ${url}`);
  process.exit(1);
}

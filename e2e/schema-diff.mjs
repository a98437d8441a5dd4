// Compares two SDL files with GraphQL Inspector (run by tests/api/schema.rs).
// Usage: node schema-diff.mjs OLD.graphql NEW.graphql
// Prints one JSON line per change: {"criticality": "BREAKING" | "DANGEROUS" | "NON_BREAKING",
// "message", "path"}.
import { readFileSync } from 'node:fs';
import { buildSchema } from 'graphql';
import { diff } from '@graphql-inspector/core';

const [before, after] = process.argv.slice(2).map((file) => buildSchema(readFileSync(file, 'utf8')));
for (const change of await diff(before, after)) {
  console.log(JSON.stringify({
    criticality: change.criticality.level,
    message: change.message,
    path: change.path ?? null,
  }));
}

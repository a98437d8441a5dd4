// Runs the `graphql-http` package's GraphQL-over-HTTP server audits against a goalgraph
// server (run by tests/api/graphql_http_audit.rs). Usage: node graphql-http-audit.mjs URL TOKEN
// Prints one JSON line per audit: {"id", "name", "status": "ok" | "warn" | "error", "reason"}.
import { auditServer } from 'graphql-http';

const [url, token] = process.argv.slice(2);
// Every audit's request carries the token, as an authenticated client's would.
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};
const results = await auditServer({ url, fetchFn });
for (const result of results) {
  console.log(JSON.stringify({
    id: result.id,
    name: result.name,
    status: result.status,
    reason: result.status === 'ok' ? null : result.reason,
  }));
}

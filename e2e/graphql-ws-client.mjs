// The official graphql-ws client against goalgraph's /graphql/ws (run by
// tests/api/subscriptions.rs). Usage: node graphql-ws-client.mjs WS_URL TOKEN UNDER_ID
// Prints one JSON line per event: {"event": "connected"}, {"event": "next", "payload"},
// {"event": "error", "payload"}, {"event": "closed", "code", "reason"}; exits after the first
// `next` or the close.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token, under] = process.argv.slice(2);
const print = (line) => console.log(JSON.stringify(line));
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
  retryAttempts: 0,
  lazy: false,
  on: {
    connected: () => print({ event: 'connected' }),
    closed: (event) => {
      print({ event: 'closed', code: event.code, reason: event.reason });
      process.exit(0);
    },
  },
});
client.subscribe(
  {
    query:
      'subscription($under: ID!) { progressChanged(under: $under) { objectiveId progress status objective { __typename id progress status } } }',
    variables: { under },
  },
  {
    next: (payload) => {
      print({ event: 'next', payload });
      client.dispose();
      process.exit(0);
    },
    error: (error) => {
      print({ event: 'error', payload: String(error?.message ?? error) });
    },
    complete: () => {},
  },
);

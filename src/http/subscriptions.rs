//! `GET /graphql/ws`: GraphQL subscriptions over WebSocket with the `graphql-transport-ws`
//! protocol (the `graphql-ws` package's), implemented here so every violation closes the
//! socket with the code the protocol assigns and its official client reacts to:
//!
//! | event | close code |
//! |---|---|
//! | a message that is not JSON or not a protocol message | 4400 |
//! | `subscribe` before `connection_ack` | 4401 |
//! | `connection_init` without a valid token, or the token expired | 4403 |
//! | no `connection_init` within [`INIT_TIMEOUT`] | 4408 |
//! | a `subscribe` reusing the id of a live subscription | 4409 |
//! | a second `connection_init` | 4429 |
//!
//! The connection is authenticated once, by the token in the `connection_init` payload
//! (`{"authorization": "Bearer <token>"}` or `{"token": "<token>"}`), and closed with 4403 when
//! that token expires, so a client reconnects with a fresh one. The server pings every
//! [`KEEP_ALIVE`]; a connection holds at most [`MAX_SUBSCRIPTIONS`] subscriptions (the next
//! gets an `error` message coded TOO_MANY_SUBSCRIPTIONS). Queries and mutations may come over
//! the socket too; every operation is priced and charged as over HTTP (`http::cost`). When the
//! server shuts down, open sockets close with 1001 so clients reconnect elsewhere.

use std::collections::HashMap;
use std::time::Duration;

use async_graphql::{Data, Executor};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::app::AppState;
use crate::auth::{bearer_token, resolve_viewer};
use crate::domain::access::Viewer;
use crate::error::{AppError, code};
use crate::graphql::limits::rejection;
use crate::http::cost;
use crate::http::negotiation::not_executed;
use crate::loaders::{self, LoaderCache};

/// The subprotocol spoken.
const PROTOCOL: &str = "graphql-transport-ws";
/// How long a socket may stay open without `connection_init`.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the server pings an initialised connection.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The most subscriptions one connection holds at once.
pub const MAX_SUBSCRIPTIONS: usize = 100;

pub async fn upgrade(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    upgrade
        .protocols([PROTOCOL])
        .on_upgrade(move |socket| Connection::new(state).serve(socket))
}

/// A protocol message from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Value,
    },
    Ping,
    Pong,
    Subscribe {
        id: String,
        payload: Box<async_graphql::Request>,
    },
    Complete {
        id: String,
    },
}

/// What the connection's subscription tasks hand to its loop.
enum Outgoing {
    /// A message to send.
    Send(Value),
    /// Subscription `id` ended (its `complete` or `error` already queued).
    Ended(String),
}

/// Time left until `exp` (seconds since the epoch, a token's expiry); zero once past.
fn time_until(exp: u64) -> Duration {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    Duration::from_secs(exp.saturating_sub(now))
}

/// Why the connection closes.
struct Closing(u16, String);

impl Closing {
    fn new(code: u16, reason: impl Into<String>) -> Self {
        Closing(code, reason.into())
    }
}

/// One socket's protocol state.
struct Connection {
    state: AppState,
    /// The authenticated viewer, after `connection_init`.
    session: Option<Viewer>,
    subscriptions: HashMap<String, AbortHandle>,
    outgoing: (
        mpsc::UnboundedSender<Outgoing>,
        mpsc::UnboundedReceiver<Outgoing>,
    ),
}

impl Connection {
    fn new(state: AppState) -> Self {
        Self {
            state,
            session: None,
            subscriptions: HashMap::new(),
            outgoing: mpsc::unbounded_channel(),
        }
    }

    /// Runs the protocol until either side closes.
    async fn serve(mut self, socket: WebSocket) {
        let (mut sink, mut stream) = socket.split();
        let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
        tokio::pin!(init_deadline);
        let mut expiry = Box::pin(tokio::time::sleep(Duration::MAX / 4));
        let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
        keep_alive.tick().await;
        let mut shutdown = self.state.going_away.clone();
        let going_away = async move {
            let _ = shutdown.wait_for(|going| *going).await;
        };
        tokio::pin!(going_away);
        let closing = loop {
            tokio::select! {
                () = &mut going_away => {
                    // Clients reconnect (to another replica) after 1001.
                    break Some(Closing::new(1001, "The server is shutting down"));
                }
                () = &mut init_deadline, if self.session.is_none() => {
                    break Some(Closing::new(4408, "Connection initialisation timeout"));
                }
                () = &mut expiry, if self.session.is_some() => {
                    break Some(Closing::new(4403, "Forbidden: the token expired; reconnect with a fresh one"));
                }
                _ = keep_alive.tick(), if self.session.is_some() => {
                    if send(&mut sink, &json!({ "type": "ping" })).await.is_err() {
                        break None;
                    }
                }
                Some(outgoing) = self.outgoing.1.recv() => match outgoing {
                    Outgoing::Send(message) => {
                        if send(&mut sink, &message).await.is_err() {
                            break None;
                        }
                    }
                    Outgoing::Ended(id) => {
                        self.subscriptions.remove(&id);
                    }
                },
                incoming = stream.next() => {
                    let text = match incoming {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Binary(_))) => {
                            break Some(Closing::new(4400, "Binary messages are not part of the protocol"));
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Ok(Message::Close(_)) | Err(_)) | None => break None,
                    };
                    match self.receive(&text).await {
                        Ok(Some(expires_in)) => {
                            expiry.as_mut().reset(tokio::time::Instant::now() + expires_in);
                        }
                        Ok(None) => {}
                        Err(closing) => break Some(closing),
                    }
                }
            }
        };
        for task in self.subscriptions.values() {
            task.abort();
        }
        // Queued messages of tasks that finished just now are dropped with the connection.
        if let Some(Closing(code, reason)) = closing {
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from(reason),
            };
            let _ = sink.send(Message::Close(Some(frame))).await;
        }
        let _ = sink.close().await;
    }

    /// Handles one client message; `Some(time left)` when it authenticated the connection.
    async fn receive(&mut self, text: &str) -> Result<Option<Duration>, Closing> {
        let message: ClientMessage = serde_json::from_str(text)
            .map_err(|_| Closing::new(4400, "Invalid message received"))?;
        match message {
            ClientMessage::ConnectionInit { payload } => {
                if self.session.is_some() {
                    return Err(Closing::new(4429, "Too many initialisation requests"));
                }
                let (viewer, left) =
                    authenticate(&self.state, &payload).await.map_err(|error| {
                        Closing::new(4403, format!("Forbidden: {}", error.public_message()))
                    })?;
                self.session = Some(viewer);
                self.queue(json!({ "type": "connection_ack" }));
                Ok(Some(left))
            }
            ClientMessage::Ping => {
                self.queue(json!({ "type": "pong" }));
                Ok(None)
            }
            ClientMessage::Pong => Ok(None),
            ClientMessage::Subscribe { id, payload } => {
                self.subscribe(id, *payload).await?;
                Ok(None)
            }
            ClientMessage::Complete { id } => {
                if let Some(task) = self.subscriptions.remove(&id) {
                    task.abort();
                }
                Ok(None)
            }
        }
    }

    /// Starts operation `id` (a subscription, or a query or mutation: one result), priced and
    /// charged like a request over HTTP, forwarding its results until it ends or is completed.
    async fn subscribe(
        &mut self,
        id: String,
        request: async_graphql::Request,
    ) -> Result<(), Closing> {
        let Some(viewer) = self.session else {
            return Err(Closing::new(4401, "Unauthorized"));
        };
        if self.subscriptions.contains_key(&id) {
            return Err(Closing::new(
                4409,
                format!("Subscriber for {id} already exists"),
            ));
        }
        if self.subscriptions.len() >= MAX_SUBSCRIPTIONS {
            let refused = rejection(
                code::TOO_MANY_SUBSCRIPTIONS,
                format!(
                    "a connection holds at most {MAX_SUBSCRIPTIONS} subscriptions; complete one \
                     first"
                ),
            );
            self.queue(json!({ "type": "error", "id": id, "payload": [refused] }));
            return Ok(());
        }
        // The object cap and the tenant's budget hold here as over HTTP (a subscription is
        // charged its estimate once, when it starts).
        let batch = async_graphql::BatchRequest::Single(request);
        if let Err(refused) = cost::charge(&self.state, &viewer, &batch).await {
            let error = match refused {
                cost::Refused::Error(error) => error,
                cost::Refused::OverBudget {
                    requested,
                    limit,
                    budget,
                } => cost::Refused::over_budget(requested, limit, budget).0,
            };
            self.queue(json!({ "type": "error", "id": id, "payload": [error] }));
            return Ok(());
        }
        let async_graphql::BatchRequest::Single(request) = batch else {
            unreachable!("built as a single request above");
        };
        let mut data = Data::default();
        data.insert(viewer);
        // Every event reads the objects it carries afresh, with the subscriber's visibility.
        let request = loaders::register(request, &self.state.stores, viewer, LoaderCache::Off);
        let results = self
            .state
            .schema
            .execute_stream(request, Some(std::sync::Arc::new(data)));
        let outgoing = self.outgoing.0.clone();
        let task_id = id.clone();
        let task = tokio::spawn(async move {
            forward(task_id, results, outgoing).await;
        });
        self.subscriptions.insert(id, task.abort_handle());
        Ok(())
    }

    fn queue(&self, message: Value) {
        let _ = self.outgoing.0.send(Outgoing::Send(message));
    }
}

/// Sends subscription `id`'s results as `next` messages, then `complete`; a request that fails
/// before execution (it does not parse or validate) is one `error` message instead.
async fn forward(
    id: String,
    mut results: futures::stream::BoxStream<'static, async_graphql::Response>,
    outgoing: mpsc::UnboundedSender<Outgoing>,
) {
    let mut first = true;
    while let Some(mut response) = results.next().await {
        crate::error::sanitize(&mut response.errors);
        let message = if first && not_executed(&response) {
            let message = json!({ "type": "error", "id": id, "payload": response.errors });
            let _ = outgoing.send(Outgoing::Send(message));
            let _ = outgoing.send(Outgoing::Ended(id));
            return;
        } else {
            json!({ "type": "next", "id": id, "payload": response })
        };
        first = false;
        if outgoing.send(Outgoing::Send(message)).is_err() {
            return;
        }
    }
    let _ = outgoing.send(Outgoing::Send(json!({ "type": "complete", "id": id })));
    let _ = outgoing.send(Outgoing::Ended(id));
}

async fn send(
    sink: &mut futures::stream::SplitSink<WebSocket, Message>,
    message: &Value,
) -> Result<(), axum::Error> {
    sink.send(Message::Text(message.to_string().into())).await
}

/// The viewer named by the token of a `connection_init` payload, and the time its token has
/// left.
async fn authenticate(state: &AppState, payload: &Value) -> Result<(Viewer, Duration), AppError> {
    let token = token_of(payload).ok_or_else(|| {
        AppError::Unauthenticated(
            "send {\"authorization\": \"Bearer <token>\"} as the connection_init payload".into(),
        )
    })?;
    let claims = state.keys.verify(token).await?;
    let viewer = resolve_viewer(&state.stores.org, &claims).await?;
    Ok((viewer, time_until(claims.exp)))
}

fn token_of(payload: &Value) -> Option<&str> {
    let field = |name: &str| payload.get(name).and_then(Value::as_str);
    if let Some(token) = field("token") {
        return Some(token.trim());
    }
    field("authorization")
        .or_else(|| field("Authorization"))
        .and_then(bearer_token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_token_comes_from_either_payload_shape() {
        assert_eq!(token_of(&json!({"token": "abc"})), Some("abc"));
        assert_eq!(
            token_of(&json!({"authorization": "Bearer abc"})),
            Some("abc")
        );
        assert_eq!(
            token_of(&json!({"Authorization": "bearer abc"})),
            Some("abc")
        );
        assert_eq!(token_of(&json!({"authorization": "abc"})), None);
        assert_eq!(token_of(&json!(null)), None);
    }
}

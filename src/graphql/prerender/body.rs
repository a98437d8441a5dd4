//! The HTTP body of an answer whose lists were pre-rendered: the text of async-graphql's
//! answer around the lists, each list's JSON put in its place — a short list copied into the
//! text, a long one written a piece at a time while the body is sent, so its JSON is never
//! whole in memory next to its rows.

use std::collections::BTreeMap;
use std::io::Write;

use async_graphql::{BatchResponse, Response, Value};
use axum::body::Bytes;

use super::{Header, ListChunks, PendingLists};

/// A part of a body, in order.
pub enum Piece {
    /// Text written already.
    Ready(Option<Bytes>),
    /// The rest of a long list, written when the body is sent.
    List(ListChunks),
}

impl Piece {
    /// The piece's length when it is written already.
    pub fn ready_len(&self) -> Option<usize> {
        match self {
            Piece::Ready(bytes) => Some(bytes.as_ref().map_or(0, Bytes::len)),
            Piece::List(_) => None,
        }
    }
}

impl Iterator for Piece {
    type Item = std::io::Result<Bytes>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Piece::Ready(bytes) => bytes.take().map(Ok),
            Piece::List(chunks) => chunks.next(),
        }
    }
}

/// `response` as JSON, as `serde_json` writes async-graphql's responses, with the
/// pre-rendered lists of `lists` put in place: the text around them, a list whose first
/// [`ListChunks::SIZE`] bytes hold it whole copied into the text, and the rest of a longer
/// one as a [`Piece::List`].
pub fn write_response(
    response: &BatchResponse,
    lists: &PendingLists,
) -> std::io::Result<Vec<Piece>> {
    let mut out = Pieces {
        lists,
        done: Vec::new(),
        text: Vec::new(),
    };
    match response {
        BatchResponse::Single(single) => out.single(single)?,
        BatchResponse::Batch(all) => {
            out.text.push(b'[');
            for (index, single) in all.iter().enumerate() {
                if index > 0 {
                    out.text.push(b',');
                }
                out.single(single)?;
            }
            out.text.push(b']');
        }
    }
    Ok(out.finish())
}

/// An answer being written: the pieces so far and the text after the last of them.
struct Pieces<'l> {
    lists: &'l PendingLists,
    done: Vec<Piece>,
    text: Vec<u8>,
}

impl Pieces<'_> {
    /// Puts the pending list of `header` next.
    fn list(&mut self, header: Header) -> std::io::Result<()> {
        let list = self
            .lists
            .take(header.place)
            .ok_or_else(|| std::io::Error::other("a pre-rendered list is missing"))?;
        let mut chunks = list.into_chunks();
        let first = chunks.next().unwrap_or_else(|| Ok(Bytes::new()))?;
        if chunks.is_done() {
            self.text.extend_from_slice(&first);
            return Ok(());
        }
        if !self.text.is_empty() {
            let text = std::mem::take(&mut self.text);
            self.done.push(Piece::Ready(Some(text.into())));
        }
        self.done.push(Piece::Ready(Some(first)));
        self.done.push(Piece::List(chunks));
        Ok(())
    }

    fn finish(mut self) -> Vec<Piece> {
        if !self.text.is_empty() {
            self.done.push(Piece::Ready(Some(self.text.into())));
        }
        self.done
    }

    /// `{"data":…,"extensions":…,"errors":…}`, the last two when not empty (async-graphql's
    /// order).
    fn single(&mut self, response: &Response) -> std::io::Result<()> {
        self.write_all(b"{\"data\":")?;
        self.value(&response.data)?;
        if !response.extensions.is_empty() {
            self.write_all(b",\"extensions\":")?;
            serde_json::to_writer(&mut *self, &response.extensions as &BTreeMap<String, Value>)?;
        }
        if !response.errors.is_empty() {
            self.write_all(b",\"errors\":")?;
            serde_json::to_writer(&mut *self, &response.errors)?;
        }
        self.text.push(b'}');
        Ok(())
    }

    fn value(&mut self, value: &Value) -> std::io::Result<()> {
        match value {
            Value::List(items) => {
                self.text.push(b'[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        self.text.push(b',');
                    }
                    self.value(item)?;
                }
                self.text.push(b']');
            }
            Value::Object(object) => {
                self.text.push(b'{');
                for (index, (key, item)) in object.iter().enumerate() {
                    if index > 0 {
                        self.text.push(b',');
                    }
                    serde_json::to_writer(&mut *self, key.as_str())?;
                    self.text.push(b':');
                    self.value(item)?;
                }
                self.text.push(b'}');
            }
            Value::Binary(bytes) => match Header::decode(bytes) {
                Some(header) => self.list(header)?,
                None => serde_json::to_writer(&mut *self, value)?,
            },
            scalar => serde_json::to_writer(&mut *self, scalar)?,
        }
        Ok(())
    }
}

impl Write for Pieces<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

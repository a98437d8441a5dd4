//! Relay global identifiers: an opaque base64url encoding of `Kind:number`, so clients can
//! refetch any node with `node(id:)` without knowing its type.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The kinds of node that carry a global ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    Objective,
    KeyResult,
    CheckIn,
    Milestone,
    Team,
    Cycle,
    User,
}

impl NodeKind {
    const ALL: [NodeKind; 7] = [
        NodeKind::Objective,
        NodeKind::KeyResult,
        NodeKind::CheckIn,
        NodeKind::Milestone,
        NodeKind::Team,
        NodeKind::Cycle,
        NodeKind::User,
    ];

    /// The type name used inside the encoded ID (the GraphQL type name).
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Objective => "Objective",
            NodeKind::KeyResult => "KeyResult",
            NodeKind::CheckIn => "CheckIn",
            NodeKind::Milestone => "Milestone",
            NodeKind::Team => "Team",
            NodeKind::Cycle => "Cycle",
            NodeKind::User => "User",
        }
    }
}

/// A decoded global ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GlobalId {
    pub kind: NodeKind,
    pub id: i64,
}

impl GlobalId {
    pub fn new(kind: NodeKind, id: i64) -> Self {
        Self { kind, id }
    }

    /// The opaque string handed to clients.
    pub fn encode(self) -> String {
        let mut encoded = Vec::with_capacity(Self::MAX_ENCODED);
        self.encode_into(&mut encoded);
        // Base64 is ASCII.
        String::from_utf8(encoded).unwrap_or_default()
    }

    /// The longest encoded ID: base64 of the longest kind (9 bytes), ':' and an i64 (20 bytes).
    const MAX_ENCODED: usize = 40;

    /// Appends [`Self::encode`]'s text to `out`, built on the stack (no string of its own).
    pub fn encode_into(self, out: &mut Vec<u8>) {
        // `Kind:id`: at most 9 + 1 + 20 bytes.
        let mut raw = [0u8; 32];
        let kind = self.kind.as_str().as_bytes();
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(self.id).as_bytes();
        let length = kind.len() + 1 + digits.len();
        raw[..kind.len()].copy_from_slice(kind);
        raw[kind.len()] = b':';
        raw[kind.len() + 1..length].copy_from_slice(digits);
        let mut encoded = [0u8; Self::MAX_ENCODED];
        let encoded_length = URL_SAFE_NO_PAD
            .encode_slice(&raw[..length], &mut encoded)
            .unwrap_or_default();
        out.extend_from_slice(&encoded[..encoded_length]);
    }

    /// Parses an ID a client sent; `None` for anything that is not one of ours.
    pub fn decode(raw: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(raw.as_bytes()).ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        let (kind, number) = text.split_once(':')?;
        let kind = NodeKind::ALL.into_iter().find(|k| k.as_str() == kind)?;
        let id: i64 = number.parse().ok()?;
        (id > 0).then_some(Self { kind, id })
    }

    /// Decodes an ID that must be of `kind`.
    pub fn decode_as(raw: &str, kind: NodeKind) -> Option<i64> {
        Self::decode(raw).filter(|g| g.kind == kind).map(|g| g.id)
    }
}

/// The kind of progress notes in global IDs: they are documents, named by 24 hex digits (a
/// MongoDB ObjectId) rather than a row number.
pub const NOTE_KIND: &str = "GoalUpdate";

/// The global ID of the note whose ObjectId is `hex`.
pub fn encode_note(hex: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{NOTE_KIND}:{hex}"))
}

/// The ObjectId (24 lowercase hex digits) of a note's global ID, or of the bare ObjectId
/// earlier releases handed out as the note's ID.
pub fn decode_note(raw: &str) -> Option<String> {
    let is_object_id = |text: &str| text.len() == 24 && text.bytes().all(|b| b.is_ascii_hexdigit());
    if is_object_id(raw) {
        return Some(raw.to_ascii_lowercase());
    }
    let bytes = URL_SAFE_NO_PAD.decode(raw.as_bytes()).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let hex = text.strip_prefix(NOTE_KIND)?.strip_prefix(':')?;
    is_object_id(hex).then(|| hex.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_id_round_trips_and_the_bare_object_id_is_still_accepted() {
        let hex = "65a1b2c3d4e5f60718293a4b";
        assert_eq!(decode_note(&encode_note(hex)).as_deref(), Some(hex));
        assert_eq!(decode_note(hex).as_deref(), Some(hex));
        assert_eq!(
            decode_note(&GlobalId::new(NodeKind::Objective, 1).encode()),
            None
        );
        assert_eq!(decode_note("not-a-note"), None);
    }

    #[test]
    fn an_encoded_id_decodes_to_itself() {
        let id = GlobalId::new(NodeKind::KeyResult, 42);
        assert_eq!(GlobalId::decode(&id.encode()), Some(id));
    }

    #[test]
    fn the_encoding_is_base64url_of_kind_colon_number_for_every_kind_and_size() {
        for kind in NodeKind::ALL {
            for id in [1, 42, i64::MAX] {
                let expected = URL_SAFE_NO_PAD.encode(format!("{}:{id}", kind.as_str()));
                assert_eq!(GlobalId::new(kind, id).encode(), expected);
            }
        }
        assert_eq!(
            GlobalId::new(NodeKind::Objective, 2).encode(),
            "T2JqZWN0aXZlOjI"
        );
    }

    #[test]
    fn an_id_of_another_kind_is_not_accepted_as_this_kind() {
        let raw = GlobalId::new(NodeKind::Team, 7).encode();
        assert_eq!(GlobalId::decode_as(&raw, NodeKind::Objective), None);
    }

    #[test]
    fn garbage_zero_and_negative_ids_are_rejected() {
        for raw in [
            "",
            "!!",
            "T2JqZWN0aXZl",
            &URL_SAFE_NO_PAD.encode("Objective:0"),
        ] {
            assert_eq!(GlobalId::decode(raw), None, "{raw}");
        }
        assert_eq!(
            GlobalId::decode(&URL_SAFE_NO_PAD.encode("Objective:-3")),
            None
        );
        assert_eq!(GlobalId::decode(&URL_SAFE_NO_PAD.encode("Planet:3")), None);
    }
}

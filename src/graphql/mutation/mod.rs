//! The mutation root, merged from one file per area. Each mutation checks the caller's role,
//! turns its input into a validated domain command and hands it to the stores: transactional
//! data in one PostgreSQL transaction (whose outbox carries the change to MongoDB), documents
//! (templates, custom fields, notes) to MongoDB after the PostgreSQL reads they depend on.

mod documents;
mod key_results;
mod objectives;
mod org;

use async_graphql::{ID, MergedObject, SimpleObject};

/// Entry points for writing.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    objectives::ObjectiveMutations,
    key_results::KeyResultMutations,
    org::OrgMutations,
    documents::DocumentMutations,
);

/// The result of a delete.
#[derive(SimpleObject)]
pub struct DeletePayload {
    /// The global ID of what was deleted.
    pub deleted_id: ID,
}

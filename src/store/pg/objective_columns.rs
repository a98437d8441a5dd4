//! Which of an objective's columns a subtree read fetches for the objectives below its roots:
//! a listing that shows a few fields need not have PostgreSQL carry every column through the
//! recursive walk, send it for every row, and the server decode it only to drop it.

use super::entity::objective;
use super::positional::Positional;

/// A set of the columns of [`objective::Model::COLUMNS`] (bit `i` = column `i`).
///
/// Every set holds the columns the tree read itself and the relations read: `id`,
/// `parent_id` (the pre-order), `team_id`, `owner_id` and `visibility` (the visibility rule,
/// `team` and `owner`). A column outside the set is not fetched below the roots and is left at
/// its type's default in the model ([`objective::Model`] has no "not loaded" state), so a
/// caller names every column anything will read: [`ObjectiveColumns::ALL`] when unsure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectiveColumns(u32);

impl ObjectiveColumns {
    /// Every column: the rows as a whole-row read gives them.
    pub const ALL: Self = Self((1 << objective::Model::COLUMNS.len()) - 1);

    /// Only the columns every tree read needs.
    pub fn required() -> Self {
        ["id", "parent_id", "team_id", "owner_id", "visibility"]
            .into_iter()
            .fold(Self(0), |set, column| set.with(column))
    }

    /// This set and column `name`; [`Self::ALL`] for a name that is not a column (so a
    /// mistaken name fetches too much, never too little).
    pub fn with(self, name: &str) -> Self {
        match position(name) {
            Some(at) => Self(self.0 | 1 << at),
            None => Self::ALL,
        }
    }

    /// Both sets' columns.
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether column `at` (a position in [`objective::Model::COLUMNS`]) is fetched.
    pub fn has(self, at: usize) -> bool {
        self.0 & 1 << at != 0
    }
}

/// Where column `name` sits in [`objective::Model::COLUMNS`].
fn position(name: &str) -> Option<usize> {
    objective::Model::COLUMNS
        .iter()
        .position(|column| *column == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_holds_what_it_was_given_and_an_unknown_name_means_every_column() {
        let listing = ObjectiveColumns::required().with("title");
        let at = |name| position(name).expect("a column");
        assert!(listing.has(at("title")));
        assert!(listing.has(at("owner_id")));
        assert!(!listing.has(at("description")));
        assert_ne!(listing, ObjectiveColumns::ALL);
        assert_eq!(listing.with("no_such_column"), ObjectiveColumns::ALL);
        assert!((0..objective::Model::COLUMNS.len()).all(|at| ObjectiveColumns::ALL.has(at)));
        assert_eq!(
            listing.union(ObjectiveColumns::required().with("progress")),
            listing.with("progress")
        );
    }
}

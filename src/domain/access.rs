//! Who is asking: the authenticated caller every read and write is scoped by.

use super::role::Role;

/// The caller of a request, resolved from a verified token and the users table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub tenant_id: i64,
    pub user_id: i64,
    pub role: Role,
    /// The user's home team; a manager sees the private objectives of this team.
    pub team_id: Option<i64>,
}

impl Viewer {
    /// Admins see every private objective of their tenant.
    pub fn sees_all_private(&self) -> bool {
        self.role == Role::Admin
    }

    /// The team whose private objectives this viewer sees as its manager.
    pub fn managed_team(&self) -> Option<i64> {
        if self.role == Role::Manager {
            self.team_id
        } else {
            None
        }
    }

    /// Whether this viewer may see an objective with the given visibility, owner and team.
    pub fn can_see(&self, private: bool, owner_id: i64, team_id: Option<i64>) -> bool {
        !private
            || owner_id == self.user_id
            || self.sees_all_private()
            || (self.managed_team().is_some() && self.managed_team() == team_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(role: Role, team_id: Option<i64>) -> Viewer {
        Viewer {
            tenant_id: 1,
            user_id: 10,
            role,
            team_id,
        }
    }

    #[test]
    fn a_private_objective_is_visible_to_its_owner_its_team_manager_and_admins() {
        assert!(viewer(Role::Member, None).can_see(true, 10, Some(3)));
        assert!(viewer(Role::Manager, Some(3)).can_see(true, 99, Some(3)));
        assert!(viewer(Role::Admin, None).can_see(true, 99, Some(3)));
    }

    #[test]
    fn a_private_objective_is_hidden_from_everyone_else() {
        assert!(!viewer(Role::Member, Some(3)).can_see(true, 99, Some(3)));
        assert!(!viewer(Role::Manager, Some(4)).can_see(true, 99, Some(3)));
        assert!(!viewer(Role::Manager, None).can_see(true, 99, None));
    }
}

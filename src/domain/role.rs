//! Roles of users within a tenant and what each may do.

vocabulary! {
    /// A user's role in their tenant (stored as `viewer`, `member`, ...).
    #[derive(PartialOrd, Ord)]
    pub enum Role {
        Viewer,
        Member,
        Manager,
        Admin,
    }
}

impl Role {
    /// Creating and changing objectives, key results, check-ins and milestones.
    pub fn can_write_goals(self) -> bool {
        self >= Role::Member
    }

    /// Managing the org chart (teams) and the planning calendar (cycles).
    pub fn can_manage_org(self) -> bool {
        self >= Role::Manager
    }

    /// Managing users and their roles.
    pub fn can_manage_users(self) -> bool {
        self == Role::Admin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_viewer_can_only_read() {
        assert!(!Role::Viewer.can_write_goals());
        assert!(Role::Member.can_write_goals());
    }

    #[test]
    fn roles_round_trip_through_text() {
        for role in [Role::Viewer, Role::Member, Role::Manager, Role::Admin] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }
}

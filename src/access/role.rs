//! Roles in a tenant (owner > admin > member > viewer) and the scopes each
//! one grants.

use std::fmt;

use super::{Scope, Scopes};

/// A member's role in a tenant. Each role holds every right of the roles
/// below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Viewer,
    Member,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Self::Owner, Self::Admin, Self::Member, Self::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
            Self::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == s)
    }

    /// The scopes the role grants: the same vocabulary API keys use, so one
    /// check serves both credentials. Viewers read; members also write
    /// projects and tasks; admins also manage API keys and members; owners
    /// also manage the tenant.
    pub fn scopes(self) -> Scopes {
        let read = [Scope::ProjectsRead, Scope::TasksRead, Scope::MembersRead];
        let write = [Scope::ProjectsWrite, Scope::TasksWrite];
        let admin = [Scope::ApiKeysManage, Scope::MembersManage];
        let mut scopes: Scopes = read.into_iter().collect();
        if self >= Self::Member {
            write.into_iter().for_each(|s| scopes.insert(s));
        }
        if self >= Self::Admin {
            admin.into_iter().for_each(|s| scopes.insert(s));
        }
        if self == Self::Owner {
            scopes.insert(Scope::TenantManage);
        }
        scopes
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_holds_the_rights_of_those_below() {
        for pair in Role::ALL.windows(2) {
            assert!(
                pair[1].scopes().is_subset_of(pair[0].scopes()),
                "{} ⊆ {}",
                pair[1],
                pair[0]
            );
            assert!(pair[1] < pair[0]);
        }
        assert!(!Role::Viewer.scopes().contains(Scope::ProjectsWrite));
        assert!(Role::Member.scopes().contains(Scope::TasksWrite));
        assert!(!Role::Member.scopes().contains(Scope::ApiKeysManage));
        assert!(Role::Admin.scopes().contains(Scope::ApiKeysManage));
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
    }
}

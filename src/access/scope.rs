//! Scopes: what a credential may do, as a compact bit set with room for the
//! scopes later rooms add. Their names are part of the public API.

use std::fmt;

/// What a credential may do. Scope names are part of the public API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    ProjectsRead,
    ProjectsWrite,
    TasksRead,
    TasksWrite,
    ApiKeysManage,
    MembersRead,
    MembersManage,
    TenantManage,
}

impl Scope {
    pub const ALL: [Scope; 8] = [
        Self::ProjectsRead,
        Self::ProjectsWrite,
        Self::TasksRead,
        Self::TasksWrite,
        Self::ApiKeysManage,
        Self::MembersRead,
        Self::MembersManage,
        Self::TenantManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProjectsRead => "projects:read",
            Self::ProjectsWrite => "projects:write",
            Self::TasksRead => "tasks:read",
            Self::TasksWrite => "tasks:write",
            Self::ApiKeysManage => "api_keys:manage",
            Self::MembersRead => "members:read",
            Self::MembersManage => "members:manage",
            Self::TenantManage => "tenant:manage",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    fn bit(self) -> u64 {
        1 << (self as u32)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes: one bit a scope, room for 64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u64);

impl Scopes {
    /// Every scope of the vocabulary.
    pub fn all() -> Self {
        Scope::ALL.into_iter().collect()
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn is_subset_of(self, other: Scopes) -> bool {
        self.0 & !other.0 == 0
    }

    /// The scopes in both sets.
    pub fn intersection(self, other: Scopes) -> Scopes {
        Scopes(self.0 & other.0)
    }

    pub fn insert(&mut self, scope: Scope) {
        self.0 |= scope.bit();
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// The stored form: names separated by single spaces, in canonical order.
    pub fn to_stored(self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ")
    }

    /// Reads the stored form; unknown names are dropped (a scope removed from
    /// the vocabulary grants nothing).
    pub fn from_stored(s: &str) -> Self {
        s.split_ascii_whitespace().filter_map(Scope::parse).collect()
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut set = Scopes::default();
        for scope in iter {
            set.insert(scope);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_form_round_trips() {
        let set: Scopes = [Scope::TasksWrite, Scope::ProjectsRead].into_iter().collect();
        assert_eq!(set.to_stored(), "projects:read tasks:write");
        assert_eq!(Scopes::from_stored(&set.to_stored()), set);
        assert_eq!(Scopes::from_stored(&Scopes::all().to_stored()), Scopes::all());
        assert!(set.is_subset_of(Scopes::all()));
        assert!(!Scopes::all().is_subset_of(set));
        assert_eq!(Scopes::all().intersection(set), set);
        assert_eq!(set.intersection(Scopes::default()), Scopes::default());
    }
}

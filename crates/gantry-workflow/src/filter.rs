//! GitHub filter patterns (`branches`, `tags`, `paths` and their `-ignore` twins).

//! The action store: remote actions (`uses: OWNER/REPO[/PATH]@REF`) and remote reusable
//! workflows kept on disk so runs never need the network.
//!
//! Every stored `owner/repo@ref` points at a commit; each commit's repository tree is stored once
//! under `<data_dir>/actions/trees/<commit>/`, read-only. Actions come from a local git
//! repository (any ref, resolved as GitHub resolves it: a full SHA, `refs/...`, else a tag before
//! a branch), a plain directory or a tarball (recorded as a commit of fixed metadata, so the same
//! content gets the same id), a forge via git2 (`pull`), or act's cache (`import_act`).
//!
//! `gantry run` and `gantry daemon` open the same store; writers serialise on a lock file and
//! replace the index atomically, so readers never see a half-written entry or tree.

mod act;
mod error;
mod git;
mod index;
mod reference;
mod store;
mod tarball;

pub use act::ActImport;
pub use error::StoreError;
pub use index::Entry;
pub use reference::{ActionRef, RefError};
pub use store::{ActionStore, Resolved};

/// The forge `pull` fetches from unless configured otherwise.
pub const DEFAULT_FORGE: &str = "https://github.com";

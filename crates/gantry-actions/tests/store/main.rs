//! The action store against real git repositories, directories, tarballs and an act cache, all
//! in temporary folders.

mod fixtures;
mod sources;

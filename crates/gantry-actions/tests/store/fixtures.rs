//! Git repositories built with git2, so tests need no git configuration.

use std::fs;
use std::path::Path;

use git2::{Oid, Repository, Signature, Time};

/// A bare repository with commits made through a scratch work tree.
pub struct Forge {
    pub repo: Repository,
}

impl Forge {
    pub fn bare(path: &Path) -> Forge {
        Forge {
            repo: Repository::init_bare(path).unwrap(),
        }
    }

    /// Commits `files` (path → content) on top of `parent`, returning the commit.
    pub fn commit(&self, files: &[(&str, &str)], parent: Option<Oid>, message: &str) -> Oid {
        let mut index = git2::Index::new().unwrap();
        for (path, content) in files {
            let blob = self.repo.blob(content.as_bytes()).unwrap();
            let entry = git2::IndexEntry {
                ctime: git2::IndexTime::new(0, 0),
                mtime: git2::IndexTime::new(0, 0),
                dev: 0,
                ino: 0,
                mode: 0o100644,
                uid: 0,
                gid: 0,
                file_size: content.len() as u32,
                id: blob,
                flags: 0,
                flags_extended: 0,
                path: path.as_bytes().to_vec(),
            };
            index.add(&entry).unwrap();
        }
        let tree = index.write_tree_to(&self.repo).unwrap();
        let tree = self.repo.find_tree(tree).unwrap();
        let who = Signature::new("t", "t@example.invalid", &Time::new(1_700_000_000, 0)).unwrap();
        let parents: Vec<_> = parent
            .map(|p| self.repo.find_commit(p).unwrap())
            .into_iter()
            .collect();
        let parents: Vec<_> = parents.iter().collect();
        self.repo
            .commit(None, &who, &who, message, &tree, &parents)
            .unwrap()
    }

    pub fn branch(&self, name: &str, commit: Oid) {
        self.repo
            .reference(&format!("refs/heads/{name}"), commit, true, "test")
            .unwrap();
    }

    pub fn lightweight_tag(&self, name: &str, commit: Oid) {
        self.repo
            .reference(&format!("refs/tags/{name}"), commit, true, "test")
            .unwrap();
    }

    pub fn annotated_tag(&self, name: &str, commit: Oid) {
        let object = self.repo.find_object(commit, None).unwrap();
        let who = Signature::new("t", "t@example.invalid", &Time::new(1_700_000_000, 0)).unwrap();
        self.repo.tag(name, &object, &who, "release", true).unwrap();
    }
}

pub fn write(path: &Path, content: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

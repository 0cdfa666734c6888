//! Who may touch a job's files on this machine: the job's own user, nobody else.
//!
//! A job's host directory is private (0700, owned by gantry's user), so other local users
//! cannot reach anything below it. Inside, directories and files belong to the job
//! container's user with modes 0700 and 0600: step scripts, file-command files and step
//! requests (which carry the step's environment, secrets included) are readable and writable
//! by the step and by gantry only.
//!
//! When gantry cannot give a file away (it is not root and the container user is another
//! uid), the container user would be locked out by 0600; then the entries stay open to all
//! (0777/0666) and the private job directory above them is what keeps other host users out.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use gantry_runner::executor::ExecutorError;

use crate::io_error;

/// The mode of a job's private host directory.
pub(crate) const PRIVATE_DIR: u32 = 0o700;
/// The mode of a file only its owner may read and write.
pub(crate) const PRIVATE_FILE: u32 = 0o600;

/// How entries below a job's private directory are handed to the container user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Owned by this uid and gid (`None`: keep gantry's), private modes.
    Owned { uid: u32, gid: Option<u32> },
    /// Open modes: gantry cannot chown to the container user.
    Open,
}

impl Access {
    /// For entries the container user `(uid, gid)` must read and write.
    pub(crate) fn for_user(owner: crate::tarball::Owner) -> Self {
        let (Ok(uid), Ok(gid)) = (u32::try_from(owner.0), u32::try_from(owner.1)) else {
            return Access::Open;
        };
        // SAFETY: geteuid and getegid have no preconditions and cannot fail.
        let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
        match (euid, uid) {
            (0, _) => Access::Owned {
                uid,
                gid: Some(gid),
            },
            (me, them) if me == them => Access::Owned {
                uid,
                gid: (gid == egid).then_some(gid),
            },
            _ => Access::Open,
        }
    }

    /// For entries of gantry's own user (host jobs).
    pub(crate) fn own() -> Self {
        // SAFETY: geteuid has no preconditions and cannot fail.
        Access::Owned {
            uid: unsafe { libc::geteuid() },
            gid: None,
        }
    }

    /// Gives an existing directory to the job's user.
    pub(crate) fn dir(self, path: &Path) -> Result<(), ExecutorError> {
        self.apply(path, PRIVATE_DIR, 0o777)
    }

    /// Gives an existing file to the job's user.
    pub(crate) fn file(self, path: &Path) -> Result<(), ExecutorError> {
        self.apply(path, PRIVATE_FILE, 0o666)
    }

    fn apply(self, path: &Path, private: u32, open: u32) -> Result<(), ExecutorError> {
        let mode = match self {
            Access::Owned { uid, gid } => {
                std::os::unix::fs::lchown(path, Some(uid), gid).map_err(|e| {
                    io_error(format!("changing the owner of {}", path.display()), e)
                })?;
                private
            }
            Access::Open => open,
        };
        set_mode(path, mode)
    }

    /// Writes a new file that is never readable by anyone else, not even for a moment: it is
    /// created 0600 (replacing what was there), then handed over.
    pub(crate) fn write_new(self, path: &Path, data: &[u8]) -> Result<(), ExecutorError> {
        let ctx = |e| io_error(format!("writing {}", path.display()), e);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(PRIVATE_FILE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(ctx)?;
        file.write_all(data).map_err(ctx)?;
        self.file(path)
    }
}

pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<(), ExecutorError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| io_error(format!("setting permissions of {}", path.display()), e))
}

/// Creates `dir` and its missing parents with mode 0700 (whatever the umask).
pub(crate) fn create_private_dirs(dir: &Path) -> Result<(), ExecutorError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR)
        .create(dir)
        .map_err(|e| io_error(format!("creating {}", dir.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        Access::own().write_new(&path, b"x").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let nested = dir.path().join("a/b");
        create_private_dirs(&nested).unwrap();
        for d in [dir.path().join("a"), nested] {
            let mode = std::fs::metadata(&d).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{}", d.display());
        }
    }

    #[test]
    fn another_user_is_open_unless_root() {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        let access = Access::for_user((4242, 4242));
        assert_eq!(matches!(access, Access::Owned { .. }), root);
    }
}

//! `ACTIONS_RUNTIME_TOKEN`: a per-run token, and the signatures of blob URLs.
//!
//! The token is a JWT (HS256) because `@actions/artifact` decodes it: it reads the run's and
//! job's backend ids from the `scp` claim's `Actions.Results:<run>:<job>` scope and refuses a
//! token without one. gantry adds its own claims (repository, ref, default branch) and checks
//! the signature on every request, so a token names exactly one run's artifacts and one
//! repository's caches, and cannot be forged or widened by the job holding it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::path::Path;

use crate::error::{Result, ServiceError};

/// What a run's token grants: its run's artifacts, its repository's caches seen from its ref.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunScope {
    /// The run's id (`github.run_id`), the artifacts' namespace.
    pub run_id: String,
    /// `owner/name`, the caches' namespace.
    pub repository: String,
    /// `GITHUB_REF`: caches are saved in this scope and read from it...
    pub git_ref: String,
    /// ...and from the default branch's (`refs/heads/main`).
    pub default_ref: String,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    /// The scopes `@actions/artifact` parses.
    scp: String,
    #[serde(flatten)]
    scope: RunScope,
    iat: i64,
    exp: i64,
}

/// Signs and checks tokens and URLs with a key kept in the services' directory, so tokens
/// minted before a daemon restart stay valid.
pub(crate) struct Signer {
    key: Vec<u8>,
}

const JWT_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

impl Signer {
    /// Reads the key at `path`, creating a random one (readable by the owner only) if absent.
    pub(crate) fn load_or_create(path: &Path) -> Result<Signer> {
        match std::fs::read(path) {
            Ok(key) if key.len() >= 32 => return Ok(Signer { key }),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ServiceError::io("read", path)(e)),
        }
        let key: Vec<u8> = uuid::Uuid::new_v4()
            .into_bytes()
            .into_iter()
            .chain(uuid::Uuid::new_v4().into_bytes())
            .collect();
        write_private(path, &key)?;
        // Several instances sharing one directory may start at once: whoever linked first
        // made the key, and everyone signs with what is on disk.
        let key = std::fs::read(path).map_err(ServiceError::io("read", path))?;
        Ok(Signer { key })
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("hmac takes keys of any length"));
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    fn verify_mac(&self, data: &[u8], tag: &[u8]) -> bool {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("hmac takes keys of any length"));
        mac.update(data);
        mac.verify_slice(tag).is_ok()
    }

    /// A token for `scope`, valid for `ttl_secs` from `now`.
    pub(crate) fn mint(&self, scope: &RunScope, now: i64, ttl_secs: i64) -> String {
        let claims = Claims {
            scp: format!(
                "Actions.GenericRead:gantry Actions.Results:{}:{}",
                scope.run_id, scope.run_id
            ),
            scope: scope.clone(),
            iat: now,
            exp: now + ttl_secs,
        };
        let payload = serde_json::to_vec(&claims).unwrap_or_default();
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(JWT_HEADER),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = URL_SAFE_NO_PAD.encode(self.mac(signing_input.as_bytes()));
        format!("{signing_input}.{signature}")
    }

    /// The scope of a token this signer minted and that has not expired at `now`.
    pub(crate) fn verify(&self, token: &str, now: i64) -> Result<RunScope> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ServiceError::BadToken("not a jwt"));
        };
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| ServiceError::BadToken("malformed signature"))?;
        let signing_input = &token[..header.len() + 1 + payload.len()];
        if !self.verify_mac(signing_input.as_bytes(), &signature) {
            return Err(ServiceError::BadToken("signature does not match"));
        }
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| ServiceError::BadToken("malformed payload"))?;
        let claims: Claims = serde_json::from_slice(&payload)
            .map_err(|_| ServiceError::BadToken("malformed claims"))?;
        if claims.exp <= now {
            return Err(ServiceError::BadToken("expired"));
        }
        Ok(claims.scope)
    }

    /// The `sig` of a blob URL: what it names (`kind`, `id`) and until when (`expires`).
    pub(crate) fn sign_url(&self, kind: &str, id: &str, expires: i64) -> String {
        hex::encode(self.mac(format!("{kind}\n{id}\n{expires}").as_bytes()))
    }

    /// Checks a blob URL's signature and expiry.
    pub(crate) fn check_url(
        &self,
        kind: &str,
        id: &str,
        expires: i64,
        sig: &str,
        now: i64,
    ) -> Result<()> {
        let tag = hex::decode(sig).map_err(|_| ServiceError::BadSignature)?;
        let data = format!("{kind}\n{id}\n{expires}");
        if expires <= now || !self.verify_mac(data.as_bytes(), &tag) {
            return Err(ServiceError::BadSignature);
        }
        Ok(())
    }
}

/// Writes a new file only its owner can read, atomically (temp file, fsync, rename).
fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|mut f| {
        f.write_all(data)?;
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(ServiceError::io("write", &tmp)(e));
    }
    // A link, not a rename: an existing key (another instance's, just made) is never replaced.
    let linked = match std::fs::hard_link(&tmp, path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && short_key(path) => {
            // A truncated key from a crash: nobody can be using it.
            std::fs::rename(&tmp, path).map_err(ServiceError::io("rename", path))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other.map_err(ServiceError::io("link", path)),
    };
    let _ = std::fs::remove_file(&tmp);
    linked
}

fn short_key(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() < 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> RunScope {
        RunScope {
            run_id: "42".into(),
            repository: "octo/app".into(),
            git_ref: "refs/heads/feature".into(),
            default_ref: "refs/heads/main".into(),
        }
    }

    #[test]
    fn tokens_round_trip_and_refuse_tampering_and_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let signer = Signer::load_or_create(&dir.path().join("key")).unwrap();
        let token = signer.mint(&scope(), 1000, 60);
        assert_eq!(signer.verify(&token, 1001).unwrap(), scope());
        assert!(matches!(
            signer.verify(&token, 1060),
            Err(ServiceError::BadToken("expired"))
        ));
        // The payload the client decodes carries the Actions.Results scope.
        let payload = token.split('.').nth(1).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert!(
            claims["scp"]
                .as_str()
                .unwrap()
                .contains("Actions.Results:42:42")
        );
        // Widening the scope breaks the signature.
        let mut forged = claims.clone();
        forged["repository"] = "other/repo".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
        assert!(signer.verify(&forged, 1001).is_err());
        // Another key (another gantry) refuses it; the same key file accepts it.
        let other = Signer::load_or_create(&dir.path().join("other")).unwrap();
        assert!(other.verify(&token, 1001).is_err());
        let again = Signer::load_or_create(&dir.path().join("key")).unwrap();
        assert!(again.verify(&token, 1001).is_ok());
        assert!(signer.verify("garbage", 1001).is_err());
    }

    #[test]
    fn url_signatures_bind_kind_id_and_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let signer = Signer::load_or_create(&dir.path().join("key")).unwrap();
        let sig = signer.sign_url("artifact", "7", 2000);
        assert!(signer.check_url("artifact", "7", 2000, &sig, 1000).is_ok());
        assert!(signer.check_url("artifact", "8", 2000, &sig, 1000).is_err());
        assert!(signer.check_url("cache", "7", 2000, &sig, 1000).is_err());
        assert!(signer.check_url("artifact", "7", 2001, &sig, 1000).is_err());
        assert!(signer.check_url("artifact", "7", 2000, &sig, 2000).is_err());
    }
}

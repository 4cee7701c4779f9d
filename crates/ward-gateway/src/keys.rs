//! Gateway keys: creation, listing, revocation and verification.
//!
//! A key reads `wk_<id>_<secret>`: the id (16 hex digits) finds the row, the secret (64 hex
//! digits, 256 random bits) is checked against `SHA-256(salt || secret)` with a
//! constant-time comparison. Only the salt and the hash are stored, so a stolen store does
//! not yield usable keys. The admin secret is stored the same way.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// Prefix of every gateway key, so that secret scanners (including ours) can spot them.
pub const KEY_PREFIX: &str = "wk_";

/// The API endpoints a key can be scoped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    /// `POST /v1/chat/completions`.
    Chat,
    /// `POST /v1/completions`.
    Completions,
    /// `POST /v1/embeddings`.
    Embeddings,
    /// `POST /v1/responses`.
    Responses,
    /// `GET /v1/models`.
    Models,
}

impl Endpoint {
    /// Every endpoint, in documentation order.
    pub const ALL: [Endpoint; 5] = [
        Endpoint::Chat,
        Endpoint::Completions,
        Endpoint::Embeddings,
        Endpoint::Responses,
        Endpoint::Models,
    ];

    /// The scope name used on the command line and in the store.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Responses => "responses",
            Endpoint::Models => "models",
        }
    }

    /// Parses a scope name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }

    fn bit(self) -> u8 {
        match self {
            Endpoint::Chat => 1,
            Endpoint::Completions => 2,
            Endpoint::Embeddings => 4,
            Endpoint::Responses => 8,
            Endpoint::Models => 16,
        }
    }
}

/// A set of endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints(u8);

impl Endpoints {
    /// All endpoints.
    pub fn all() -> Self {
        Self(Endpoint::ALL.iter().fold(0, |acc, e| acc | e.bit()))
    }

    /// Whether `e` is in the set.
    pub fn contains(self, e: Endpoint) -> bool {
        self.0 & e.bit() != 0
    }

    /// Parses `chat,models`; an unknown name is an error.
    pub fn parse_list(list: &str) -> Result<Self> {
        let mut bits = 0;
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let e = Endpoint::from_name(name).ok_or_else(|| Error::InvalidArgument {
                message: format!("unknown endpoint `{name}`"),
                hint:
                    "use a comma-separated list of chat, completions, embeddings, responses, models"
                        .to_string(),
            })?;
            bits |= e.bit();
        }
        Ok(Self(bits))
    }

    /// The comma-separated names.
    pub fn to_list(self) -> String {
        Endpoint::ALL
            .iter()
            .filter(|e| self.contains(**e))
            .map(|e| e.name())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// What `ward keys create` asks for.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// Human-readable name.
    pub name: String,
    /// Models the key may use; `*` means every configured model.
    pub models: Vec<String>,
    /// Endpoints the key may call.
    pub endpoints: Endpoints,
    /// Requests per minute, if limited.
    pub rpm: Option<u32>,
    /// Tokens per minute, if limited.
    pub tpm: Option<u32>,
    /// Lifetime in seconds, if the key expires.
    pub expires_in_secs: Option<u64>,
}

/// A key as the gateway holds it in memory: everything needed to authorise a request.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    /// Public id (also in the audit log).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    salt: [u8; 16],
    hash: [u8; 32],
    /// Models the key may use; `*` means every configured model.
    pub models: Vec<String>,
    /// Endpoints the key may call.
    pub endpoints: Endpoints,
    /// Requests per minute, if limited.
    pub rpm: Option<u32>,
    /// Tokens per minute, if limited.
    pub tpm: Option<u32>,
    /// Creation time, Unix seconds.
    pub created_at: u64,
    /// Expiry, Unix seconds.
    pub expires_at: Option<u64>,
    /// Revocation time, Unix seconds.
    pub revoked_at: Option<u64>,
}

impl KeyRecord {
    /// Whether the key may use `model`.
    pub fn allows_model(&self, model: &str) -> bool {
        self.models.iter().any(|m| m == "*" || m == model)
    }

    /// Whether the key is usable at `now` (Unix seconds).
    pub fn is_active(&self, now: u64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|t| now < t)
    }
}

/// The listing `ward keys list` prints: never the hash or salt.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    /// Public id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Models.
    pub models: Vec<String>,
    /// Endpoints, comma-separated.
    pub endpoints: String,
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens per minute.
    pub tpm: Option<u32>,
    /// Creation time, Unix seconds.
    pub created_at: u64,
    /// Expiry, Unix seconds.
    pub expires_at: Option<u64>,
    /// Revocation time, Unix seconds.
    pub revoked_at: Option<u64>,
}

/// A freshly created key: the only moment the full secret exists.
#[derive(Debug)]
pub struct CreatedKey {
    /// Public id.
    pub id: String,
    /// The full key to hand to the client.
    pub key: String,
}

/// The SQLite key store.
pub struct KeyStore {
    path: PathBuf,
    conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    salt BLOB NOT NULL,
    hash BLOB NOT NULL,
    models TEXT NOT NULL,
    endpoints TEXT NOT NULL,
    rpm INTEGER,
    tpm INTEGER,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
);
";

impl KeyStore {
    /// Creates a new store holding a new admin secret, and writes that secret to
    /// `admin_path` (mode 0600). Refuses to overwrite either file. Both are written to a
    /// temporary name, synced, then linked into place, so a crash never leaves a
    /// half-written store or secret under the real name.
    pub fn init(path: &Path, admin_path: &Path) -> Result<()> {
        for p in [path, admin_path] {
            if p.exists() {
                return Err(Error::AlreadyExists {
                    path: p.to_path_buf(),
                });
            }
        }
        let admin_secret = format!("wa_{}", hex(&random::<32>()?));
        let salt = random::<16>()?;
        let hash = salted_hash(&salt, admin_secret.as_bytes());

        let tmp = tmp_path(path);
        let _ = std::fs::remove_file(&tmp);
        let store_err = |source| Error::Store {
            path: path.to_path_buf(),
            source,
        };
        {
            let conn = Connection::open(&tmp).map_err(store_err)?;
            conn.execute_batch(SCHEMA).map_err(store_err)?;
            conn.execute(
                "INSERT INTO meta (name, value) VALUES ('admin_salt', ?1), ('admin_hash', ?2)",
                params![salt.as_slice(), hash.as_slice()],
            )
            .map_err(store_err)?;
            conn.close().map_err(|(_, e)| store_err(e))?;
        }
        sync_file(&tmp)?;
        link_no_clobber(&tmp, path)?;

        write_secret_file(admin_path, admin_secret.as_bytes())?;
        Ok(())
    }

    /// Opens an existing store; refuses to create one.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(Error::StoreMissing {
                path: path.to_path_buf(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| Error::Store {
            path: path.to_path_buf(),
            source,
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|source| Error::Store {
                path: path.to_path_buf(),
                source,
            })?;
        let store = Self {
            path: path.to_path_buf(),
            conn,
        };
        store.admin()?;
        Ok(store)
    }

    fn err(&self, source: rusqlite::Error) -> Error {
        Error::Store {
            path: self.path.clone(),
            source,
        }
    }

    /// The admin secret's salt and hash.
    pub fn admin(&self) -> Result<AdminSecret> {
        let get = |name: &str| -> Result<Option<Vec<u8>>> {
            self.conn
                .query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(|e| self.err(e))
        };
        let (Some(salt), Some(hash)) = (get("admin_salt")?, get("admin_hash")?) else {
            return Err(Error::AdminSecretMissing {
                path: self.path.clone(),
            });
        };
        let (Ok(salt), Ok(hash)) = (<[u8; 16]>::try_from(salt), <[u8; 32]>::try_from(hash)) else {
            return Err(Error::AdminSecretMissing {
                path: self.path.clone(),
            });
        };
        Ok(AdminSecret { salt, hash })
    }

    /// Creates a key and returns it; the secret is not stored.
    pub fn create(&self, new: &NewKey) -> Result<CreatedKey> {
        if new.name.trim().is_empty() {
            return Err(Error::InvalidArgument {
                message: "the key name is empty".to_string(),
                hint: "pass `--name <who-uses-it>`".to_string(),
            });
        }
        if new.models.is_empty() || new.models.iter().any(|m| m.is_empty()) {
            return Err(Error::InvalidArgument {
                message: "a key needs at least one model".to_string(),
                hint: "pass `--models a,b` (or `*` for every configured model)".to_string(),
            });
        }
        let id = hex(&random::<8>()?);
        let secret = hex(&random::<32>()?);
        let salt = random::<16>()?;
        let hash = salted_hash(&salt, secret.as_bytes());
        let now = unix_now();
        let expires_at = match new.expires_in_secs {
            Some(s) => Some(now.checked_add(s).ok_or_else(|| Error::InvalidArgument {
                message: format!("expiry of `{s}` seconds is too far away"),
                hint: "use a shorter `--expires`".to_string(),
            })?),
            None => None,
        };
        self.conn
            .execute(
                "INSERT INTO keys (id, name, salt, hash, models, endpoints, rpm, tpm, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    id,
                    new.name,
                    salt.as_slice(),
                    hash.as_slice(),
                    new.models.join(","),
                    new.endpoints.to_list(),
                    new.rpm,
                    new.tpm,
                    to_i64(now),
                    expires_at.map(to_i64),
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(CreatedKey {
            key: format!("{KEY_PREFIX}{id}_{secret}"),
            id,
        })
    }

    /// Revokes a key; revoking twice is not an error but keeps the first time.
    pub fn revoke(&self, id: &str) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                params![id, to_i64(unix_now())],
            )
            .map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(Error::KeyNotFound {
                path: self.path.clone(),
                id: id.to_string(),
            });
        }
        Ok(())
    }

    /// Every key, without secrets.
    pub fn list(&self) -> Result<Vec<KeyInfo>> {
        Ok(self
            .load()?
            .into_iter()
            .map(|k| KeyInfo {
                endpoints: k.endpoints.to_list(),
                id: k.id,
                name: k.name,
                models: k.models,
                rpm: k.rpm,
                tpm: k.tpm,
                created_at: k.created_at,
                expires_at: k.expires_at,
                revoked_at: k.revoked_at,
            })
            .collect())
    }

    /// Every key with its salt and hash, for the gateway's in-memory table.
    pub fn load(&self) -> Result<Vec<KeyRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, name, salt, hash, models, endpoints, rpm, tpm, created_at, expires_at, revoked_at
                 FROM keys ORDER BY created_at, id",
            )
            .map_err(|e| self.err(e))?;
        type Row = (
            String,
            String,
            Vec<u8>,
            Vec<u8>,
            String,
            String,
            Option<u32>,
            Option<u32>,
            i64,
            Option<i64>,
            Option<i64>,
        );
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, name, salt, hash, models, endpoints, rpm, tpm, created, expires, revoked): Row =
                row.map_err(|e| self.err(e))?;
            let corrupt = |message: &str| Error::StoreCorrupt {
                path: self.path.clone(),
                id: id.clone(),
                message: message.to_string(),
            };
            let salt = <[u8; 16]>::try_from(salt).map_err(|_| corrupt("salt is not 16 bytes"))?;
            let hash = <[u8; 32]>::try_from(hash).map_err(|_| corrupt("hash is not 32 bytes"))?;
            let endpoints =
                Endpoints::parse_list(&endpoints).map_err(|_| corrupt("unknown endpoint"))?;
            out.push(KeyRecord {
                models: models.split(',').map(str::to_string).collect(),
                endpoints,
                rpm,
                tpm,
                created_at: to_u64(created),
                expires_at: expires.map(to_u64),
                revoked_at: revoked.map(to_u64),
                id,
                name,
                salt,
                hash,
            });
        }
        Ok(out)
    }

    /// SQLite's `data_version`: changes when another connection commits, so the gateway
    /// reloads its key table only when something changed.
    pub fn data_version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }
}

/// The admin secret's salted hash.
#[derive(Debug, Clone)]
pub struct AdminSecret {
    salt: [u8; 16],
    hash: [u8; 32],
}

impl AdminSecret {
    /// Constant-time check of a presented admin secret.
    pub fn verify(&self, presented: &str) -> bool {
        let h = salted_hash(&self.salt, presented.as_bytes());
        bool::from(h.ct_eq(&self.hash))
    }
}

/// The in-memory key table the gateway authorises against.
#[derive(Debug, Default)]
pub struct KeyTable {
    by_id: HashMap<String, KeyRecord>,
}

/// Why a presented key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization: Bearer` header.
    Missing,
    /// Not a key, unknown, or wrong secret (not distinguished, to not help guessing).
    Invalid,
    /// Revoked.
    Revoked,
    /// Expired.
    Expired,
}

impl KeyTable {
    /// Builds the table from the store's rows.
    pub fn new(records: Vec<KeyRecord>) -> Self {
        Self {
            by_id: records.into_iter().map(|r| (r.id.clone(), r)).collect(),
        }
    }

    /// Verifies a presented key and returns its record.
    pub fn authenticate(&self, presented: &str, now: u64) -> Result<&KeyRecord, AuthFailure> {
        let rest = presented
            .strip_prefix(KEY_PREFIX)
            .ok_or(AuthFailure::Invalid)?;
        let (id, secret) = rest.split_once('_').ok_or(AuthFailure::Invalid)?;
        let Some(record) = self.by_id.get(id) else {
            // Hash anyway so an unknown id costs the same as a wrong secret.
            let _ = salted_hash(&[0; 16], secret.as_bytes());
            return Err(AuthFailure::Invalid);
        };
        let h = salted_hash(&record.salt, secret.as_bytes());
        if !bool::from(h.ct_eq(&record.hash)) {
            return Err(AuthFailure::Invalid);
        }
        if record.revoked_at.is_some() {
            return Err(AuthFailure::Revoked);
        }
        if !record.is_active(now) {
            return Err(AuthFailure::Expired);
        }
        Ok(record)
    }
}

/// Parses `30d`, `12h`, `45m`, `90s` or `2w` into seconds.
pub fn parse_duration(text: &str) -> Result<u64> {
    let bad = || Error::InvalidArgument {
        message: format!("cannot read duration `{text}`"),
        hint: "use a number followed by s, m, h, d or w, such as `30d`".to_string(),
    };
    let text = text.trim();
    let unit_at = text.len().checked_sub(1).ok_or_else(bad)?;
    let (num, unit) = (
        text.get(..unit_at).ok_or_else(bad)?,
        text.get(unit_at..).ok_or_else(bad)?,
    );
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    if n == 0 {
        return Err(bad());
    }
    n.checked_mul(mult).ok_or_else(bad)
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn salted_hash(salt: &[u8], secret: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(secret);
    h.finalize().into()
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| Error::Random(e.to_string()))?;
    Ok(buf)
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

fn sync_file(path: &Path) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    OpenOptions::new()
        .read(true)
        .open(path)
        .and_then(|f| f.sync_all())
        .map_err(io)
}

/// Moves `tmp` to `dest` only if `dest` does not exist (a hard link fails on an existing
/// name, unlike rename), then syncs the directory so the new name is durable.
fn link_no_clobber(tmp: &Path, dest: &Path) -> Result<()> {
    std::fs::hard_link(tmp, dest).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            Error::AlreadyExists {
                path: dest.to_path_buf(),
            }
        } else {
            Error::Io {
                path: dest.to_path_buf(),
                source,
            }
        }
    })?;
    std::fs::remove_file(tmp).map_err(|source| Error::Io {
        path: tmp.to_path_buf(),
        source,
    })?;
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| Error::Io {
                path: dir.to_path_buf(),
                source,
            })?;
    }
    Ok(())
}

/// Writes a secret readable by the owner only, atomically and without overwriting.
fn write_secret_file(path: &Path, secret: &[u8]) -> Result<()> {
    let tmp = tmp_path(path);
    let _ = std::fs::remove_file(&tmp);
    let io = |source| Error::Io {
        path: tmp.clone(),
        source,
    };
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp).map_err(io)?;
    f.write_all(secret)
        .and_then(|()| f.write_all(b"\n"))
        .map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    link_no_clobber(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, KeyStore) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("ward.db");
        KeyStore::init(&db, &dir.path().join("ward.db.admin")).unwrap();
        let s = KeyStore::open(&db).unwrap();
        (dir, s)
    }

    fn new_key() -> NewKey {
        NewKey {
            name: "app".into(),
            models: vec!["m1".into()],
            endpoints: Endpoints::all(),
            rpm: Some(5),
            tpm: None,
            expires_in_secs: None,
        }
    }

    #[test]
    fn created_key_authenticates_and_wrong_secret_does_not() {
        let (_d, s) = store();
        let k = s.create(&new_key()).unwrap();
        let table = KeyTable::new(s.load().unwrap());
        let rec = table.authenticate(&k.key, unix_now()).unwrap();
        assert_eq!(rec.id, k.id);
        assert!(rec.allows_model("m1") && !rec.allows_model("m2"));
        let mut wrong = k.key.clone();
        let last = if wrong.ends_with('0') { "1" } else { "0" };
        wrong.replace_range(wrong.len() - 1.., last);
        assert_eq!(
            table.authenticate(&wrong, unix_now()).unwrap_err(),
            AuthFailure::Invalid
        );
        assert_eq!(
            table.authenticate("sk-nope", unix_now()).unwrap_err(),
            AuthFailure::Invalid
        );
    }

    #[test]
    fn store_holds_no_secret() {
        let (d, s) = store();
        let k = s.create(&new_key()).unwrap();
        let secret = k.key.rsplit('_').next().unwrap();
        let bytes = std::fs::read(d.path().join("ward.db")).unwrap();
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }

    #[test]
    fn revoked_and_expired_keys_fail() {
        let (_d, s) = store();
        let k = s.create(&new_key()).unwrap();
        s.revoke(&k.id).unwrap();
        let table = KeyTable::new(s.load().unwrap());
        assert_eq!(
            table.authenticate(&k.key, unix_now()).unwrap_err(),
            AuthFailure::Revoked
        );
        let k2 = s
            .create(&NewKey {
                expires_in_secs: Some(60),
                ..new_key()
            })
            .unwrap();
        let table = KeyTable::new(s.load().unwrap());
        assert!(table.authenticate(&k2.key, unix_now()).is_ok());
        assert_eq!(
            table.authenticate(&k2.key, unix_now() + 61).unwrap_err(),
            AuthFailure::Expired
        );
        assert!(matches!(s.revoke("nope"), Err(Error::KeyNotFound { .. })));
    }

    #[test]
    fn init_refuses_to_overwrite_and_admin_secret_verifies() {
        let (d, s) = store();
        let db = d.path().join("ward.db");
        let admin_path = d.path().join("ward.db.admin");
        assert!(matches!(
            KeyStore::init(&db, &d.path().join("other")),
            Err(Error::AlreadyExists { .. })
        ));
        let secret = std::fs::read_to_string(&admin_path).unwrap();
        let admin = s.admin().unwrap();
        assert!(admin.verify(secret.trim()));
        assert!(!admin.verify("wa_wrong"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&admin_path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn open_refuses_missing_store() {
        let d = tempfile::tempdir().unwrap();
        assert!(matches!(
            KeyStore::open(&d.path().join("none.db")),
            Err(Error::StoreMissing { .. })
        ));
    }

    #[test]
    fn durations_and_endpoints_parse() {
        assert_eq!(parse_duration("30d").unwrap(), 30 * 86_400);
        assert_eq!(parse_duration("90s").unwrap(), 90);
        for bad in ["", "d", "0d", "5y", "-1d", "99999999999999999999w"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        let e = Endpoints::parse_list("chat,models").unwrap();
        assert!(e.contains(Endpoint::Chat) && !e.contains(Endpoint::Embeddings));
        assert_eq!(e.to_list(), "chat,models");
        assert!(Endpoints::parse_list("chat,admin").is_err());
    }
}

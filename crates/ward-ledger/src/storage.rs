//! Where the log lives: the [`Storage`] trait and its SQLite implementation.
//!
//! Tables (SQLite):
//!
//! - `meta(key, value)`: `origin` and the schema `version`;
//! - `entries(seq INTEGER PRIMARY KEY, leaf BLOB, hash BLOB)`: leaf bytes and leaf hash;
//! - `nodes(id INTEGER PRIMARY KEY, hash BLOB)`: every complete perfect subtree of level
//!   1 or more, keyed by `level << 48 | index`, so proofs and tree heads read O(log n)
//!   rows;
//! - `checkpoints(size INTEGER PRIMARY KEY, note TEXT)`: signed checkpoint notes.

use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::Error;
use crate::merkle::{Hash, MAX_LEVEL, Node, NodeReader};

/// The schema version stored in `meta`.
const SCHEMA_VERSION: &str = "1";

/// One leaf ready to be stored.
#[derive(Debug, Clone)]
pub struct NewLeaf {
    /// Sequence number.
    pub seq: u64,
    /// Canonical leaf bytes.
    pub bytes: Vec<u8>,
    /// `leaf_hash(bytes)`.
    pub hash: Hash,
}

/// A stored leaf as read back.
#[derive(Debug, Clone)]
pub struct StoredLeaf {
    /// The row's sequence number.
    pub seq: u64,
    /// The stored leaf bytes.
    pub bytes: Vec<u8>,
    /// The stored leaf hash.
    pub hash: Vec<u8>,
}

/// Persistent storage for a log. Implementations must make [`Storage::commit`] atomic and
/// durable: when it returns `Ok`, the batch survives a crash or power loss.
pub trait Storage: Send {
    /// The log's origin.
    fn origin(&mut self) -> Result<String, Error>;
    /// Number of stored entries (one past the highest sequence number).
    fn size(&mut self) -> Result<u64, Error>;
    /// Stores leaves and the interior nodes they complete, atomically and durably.
    fn commit(&mut self, leaves: &[NewLeaf], nodes: &[Node]) -> Result<(), Error>;
    /// The stored leaf `seq`, if any.
    fn leaf(&mut self, seq: u64) -> Result<Option<StoredLeaf>, Error>;
    /// Up to `limit` stored leaves with sequence numbers from `from`, in order.
    fn leaves(&mut self, from: u64, limit: usize) -> Result<Vec<StoredLeaf>, Error>;
    /// A stored hash: the leaf hash at level 0, an interior node above.
    fn node(&mut self, level: u8, index: u64) -> Result<Option<Vec<u8>>, Error>;
    /// Stored interior nodes of `level` with indices in `from..to`, in order.
    fn nodes(&mut self, level: u8, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>)>, Error>;
    /// Number of stored interior nodes.
    fn node_count(&mut self) -> Result<u64, Error>;
    /// Stores a signed checkpoint for tree size `size`, durably.
    fn put_checkpoint(&mut self, size: u64, note: &str) -> Result<(), Error>;
    /// Every stored checkpoint, by increasing size.
    fn checkpoints(&mut self) -> Result<Vec<(u64, String)>, Error>;
}

/// Reads tree nodes from a [`Storage`], failing on a missing or malformed hash.
pub struct StorageNodes<'a>(pub &'a mut dyn Storage);

impl NodeReader for StorageNodes<'_> {
    fn node(&mut self, level: u8, index: u64) -> Result<Hash, Error> {
        self.0
            .node(level, index)?
            .and_then(|h| Hash::try_from(h.as_slice()).ok())
            .ok_or(Error::MissingNode { level, index })
    }
}

/// SQLite storage: one file in WAL mode with `synchronous=FULL`, so a committed
/// transaction has been fsynced to the WAL before `commit` returns.
pub struct SqliteStorage {
    path: PathBuf,
    conn: Connection,
}

fn node_id(level: u8, index: u64) -> Result<i64, Error> {
    if level > MAX_LEVEL || index >= (1u64 << MAX_LEVEL) {
        return Err(Error::MissingNode { level, index });
    }
    i64::try_from((u64::from(level) << MAX_LEVEL) | index)
        .map_err(|_| Error::MissingNode { level, index })
}

fn to_i64(n: u64) -> Result<i64, Error> {
    i64::try_from(n).map_err(|_| Error::LogFull)
}

impl SqliteStorage {
    /// Creates a new database at `path`; fails if the file exists.
    pub fn create(path: &Path, origin: &str) -> Result<SqliteStorage, Error> {
        // Creating the (empty) file first, exclusively, means two concurrent `create`s
        // cannot both succeed, and the log is private (0600) from its first byte: audit
        // entries can be sensitive. SQLite gives its `-wal` and `-shm` files the same mode.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Error::AlreadyExists {
                    path: path.to_owned(),
                },
                _ => Error::Io {
                    action: "create",
                    path: path.to_owned(),
                    source: e,
                },
            })?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| sql(path, e))?;
        let storage = SqliteStorage {
            path: path.to_owned(),
            conn,
        };
        storage.configure()?;
        storage
            .conn
            .execute_batch(
                "BEGIN;
                 CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE entries(seq INTEGER PRIMARY KEY, leaf BLOB NOT NULL, hash BLOB NOT NULL);
                 CREATE TABLE nodes(id INTEGER PRIMARY KEY, hash BLOB NOT NULL);
                 CREATE TABLE checkpoints(size INTEGER PRIMARY KEY, note TEXT NOT NULL);
                 COMMIT;",
            )
            .map_err(|e| sql(path, e))?;
        storage
            .conn
            .execute(
                "INSERT INTO meta(key, value) VALUES ('origin', ?1), ('version', ?2)",
                params![origin, SCHEMA_VERSION],
            )
            .map_err(|e| sql(path, e))?;
        Ok(storage)
    }

    /// Opens an existing database.
    pub fn open(path: &Path) -> Result<SqliteStorage, Error> {
        if !path.is_file() {
            return Err(Error::NotFound {
                path: path.to_owned(),
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| sql(path, e))?;
        let storage = SqliteStorage {
            path: path.to_owned(),
            conn,
        };
        storage.configure()?;
        let version: Option<String> = storage
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'version'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| sql(path, e))?;
        if version.as_deref() != Some(SCHEMA_VERSION) {
            return Err(Error::NotALedger {
                path: path.to_owned(),
            });
        }
        Ok(storage)
    }

    fn configure(&self) -> Result<(), Error> {
        // WAL with synchronous=FULL fsyncs the WAL on every commit, so an acknowledged
        // append survives power loss, not only a process crash. Copying the WAL back into
        // the database (which fsyncs it too) every 32 MiB rather than every 4 MiB keeps
        // those extra fsyncs off most commits.
        self.conn
            .execute_batch(
                "PRAGMA journal_mode=WAL;
                 PRAGMA synchronous=FULL;
                 PRAGMA wal_autocheckpoint=8192;
                 PRAGMA foreign_keys=ON;
                 PRAGMA busy_timeout=10000;",
            )
            .map_err(|e| sql(&self.path, e))
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        sql(&self.path, e)
    }
}

/// Reads a BLOB or TEXT column as bytes. A hand-edited database may hold text where this
/// crate writes blobs; verification must then report the edit, not fail to read it.
fn bytes_at(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Vec<u8>> {
    let value = row.get_ref(index)?;
    match value {
        rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => Ok(b.to_vec()),
        other => Err(rusqlite::Error::InvalidColumnType(
            index,
            String::new(),
            other.data_type(),
        )),
    }
}

fn sql(path: &Path, source: rusqlite::Error) -> Error {
    Error::Sqlite {
        path: path.to_owned(),
        source,
    }
}

impl Storage for SqliteStorage {
    fn origin(&mut self) -> Result<String, Error> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = 'origin'", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    fn size(&mut self) -> Result<u64, Error> {
        let max: Option<i64> = self
            .conn
            .query_row("SELECT MAX(seq) FROM entries", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        match max {
            None => Ok(0),
            Some(m) => u64::try_from(m)
                .ok()
                .and_then(|m| m.checked_add(1))
                .ok_or_else(|| Error::Corrupt {
                    path: self.path.clone(),
                    reason: format!("sequence number `{m}` is out of range"),
                }),
        }
    }

    fn commit(&mut self, leaves: &[NewLeaf], nodes: &[Node]) -> Result<(), Error> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| sql(&path, e))?;
        {
            let mut put_leaf = tx
                .prepare_cached("INSERT INTO entries(seq, leaf, hash) VALUES (?1, ?2, ?3)")
                .map_err(|e| sql(&path, e))?;
            for leaf in leaves {
                put_leaf
                    .execute(params![to_i64(leaf.seq)?, leaf.bytes, leaf.hash.as_slice()])
                    .map_err(|e| sql(&path, e))?;
            }
            let mut put_node = tx
                .prepare_cached("INSERT INTO nodes(id, hash) VALUES (?1, ?2)")
                .map_err(|e| sql(&path, e))?;
            for node in nodes {
                put_node
                    .execute(params![
                        node_id(node.level, node.index)?,
                        node.hash.as_slice()
                    ])
                    .map_err(|e| sql(&path, e))?;
            }
        }
        tx.commit().map_err(|e| sql(&path, e))
    }

    fn leaf(&mut self, seq: u64) -> Result<Option<StoredLeaf>, Error> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT leaf, hash FROM entries WHERE seq = ?1")
            .map_err(|e| sql(&self.path, e))?;
        stmt.query_row([to_i64(seq)?], |r| {
            Ok(StoredLeaf {
                seq,
                bytes: bytes_at(r, 0)?,
                hash: bytes_at(r, 1)?,
            })
        })
        .optional()
        .map_err(|e| sql(&self.path, e))
    }

    fn leaves(&mut self, from: u64, limit: usize) -> Result<Vec<StoredLeaf>, Error> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, leaf, hash FROM entries WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(|e| sql(&self.path, e))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![to_i64(from)?, limit], |r| {
                Ok((r.get::<_, i64>(0)?, bytes_at(r, 1)?, bytes_at(r, 2)?))
            })
            .map_err(|e| sql(&self.path, e))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, bytes, hash) = row.map_err(|e| sql(&self.path, e))?;
            let seq = u64::try_from(seq).map_err(|_| Error::Corrupt {
                path: self.path.clone(),
                reason: format!("negative sequence number `{seq}`"),
            })?;
            out.push(StoredLeaf { seq, bytes, hash });
        }
        Ok(out)
    }

    fn node(&mut self, level: u8, index: u64) -> Result<Option<Vec<u8>>, Error> {
        if level == 0 {
            return Ok(self.leaf(index)?.map(|l| l.hash));
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT hash FROM nodes WHERE id = ?1")
            .map_err(|e| sql(&self.path, e))?;
        stmt.query_row([node_id(level, index)?], |r| bytes_at(r, 0))
            .optional()
            .map_err(|e| sql(&self.path, e))
    }

    fn nodes(&mut self, level: u8, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>)>, Error> {
        if from >= to {
            return Ok(Vec::new());
        }
        let base = node_id(level, 0)?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, hash FROM nodes WHERE id >= ?1 AND id < ?2 ORDER BY id")
            .map_err(|e| sql(&self.path, e))?;
        let lo = node_id(level, from)?;
        let hi = base.saturating_add(to_i64(to)?);
        let rows = stmt
            .query_map([lo, hi], |r| Ok((r.get::<_, i64>(0)?, bytes_at(r, 1)?)))
            .map_err(|e| sql(&self.path, e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, hash) = row.map_err(|e| sql(&self.path, e))?;
            // `id - base` is in `0..to` because of the query's bounds.
            out.push((
                u64::try_from(id.saturating_sub(base)).unwrap_or(u64::MAX),
                hash,
            ));
        }
        Ok(out)
    }

    fn node_count(&mut self) -> Result<u64, Error> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM nodes", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn put_checkpoint(&mut self, size: u64, note: &str) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO checkpoints(size, note) VALUES (?1, ?2)",
                params![to_i64(size)?, note],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn checkpoints(&mut self) -> Result<Vec<(u64, String)>, Error> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT size, note FROM checkpoints ORDER BY size")
            .map_err(|e| sql(&self.path, e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| sql(&self.path, e))?;
        let mut out = Vec::new();
        for row in rows {
            let (size, note) = row.map_err(|e| sql(&self.path, e))?;
            let size = u64::try_from(size).map_err(|_| Error::Corrupt {
                path: self.path.clone(),
                reason: format!("negative checkpoint size `{size}`"),
            })?;
            out.push((size, note));
        }
        Ok(out)
    }
}

//! The [`Ledger`]: group-committed appends, checkpoints and proofs over a [`Storage`].

use std::ffi::OsString;
use std::io::Write as _;
use std::ops::Range;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::Error;
use crate::entry::{self, canonical_json};
use crate::merkle::{self, Frontier, Hash, Node};
use crate::note::{Checkpoint, NoteSigner, is_valid_key_name};
use crate::storage::{NewLeaf, SqliteStorage, Storage, StorageNodes};

/// `<db>.key`: the private signing key beside the database.
pub fn key_path(db: &Path) -> PathBuf {
    with_suffix(db, ".key")
}

/// `<db>.pub`: the verifier key beside the database.
pub fn public_key_path(db: &Path) -> PathBuf {
    with_suffix(db, ".pub")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// Tuning for a [`Ledger`].
#[derive(Debug, Clone)]
pub struct LedgerOptions {
    /// Write a checkpoint after this many new entries (`None`: never by count).
    pub checkpoint_every_entries: Option<u64>,
    /// Write a checkpoint when this much time has passed and there are new entries
    /// (`None`: never by time).
    pub checkpoint_every: Option<Duration>,
    /// Write a checkpoint when the ledger is closed and there are new entries.
    pub checkpoint_on_close: bool,
    /// Most entries committed in one transaction.
    pub max_batch: usize,
}

impl Default for LedgerOptions {
    fn default() -> LedgerOptions {
        LedgerOptions {
            checkpoint_every_entries: Some(10_000),
            checkpoint_every: Some(Duration::from_secs(60)),
            checkpoint_on_close: true,
            max_batch: 65_536,
        }
    }
}

impl LedgerOptions {
    /// Options for reading: no checkpoint is ever written implicitly (explicit
    /// [`Ledger::checkpoint`] calls still work).
    pub fn without_automatic_checkpoints() -> LedgerOptions {
        LedgerOptions {
            checkpoint_every_entries: None,
            checkpoint_every: None,
            checkpoint_on_close: false,
            ..LedgerOptions::default()
        }
    }
}

/// An inclusion proof with everything an independent verifier needs.
#[derive(Debug, Clone)]
pub struct InclusionProof {
    /// Sequence number of the entry (its leaf index).
    pub seq: u64,
    /// Tree size the proof is for.
    pub size: u64,
    /// The stored leaf bytes.
    pub leaf: Vec<u8>,
    /// `SHA-256(0x00 || leaf)`.
    pub leaf_hash: Hash,
    /// The audit path, nearest the leaf first.
    pub proof: Vec<Hash>,
    /// The tree head at `size`.
    pub root: Hash,
}

/// A consistency proof between two tree sizes.
#[derive(Debug, Clone)]
pub struct ConsistencyProof {
    /// The older size.
    pub old_size: u64,
    /// The newer size.
    pub new_size: u64,
    /// Tree head at `old_size`.
    pub old_root: Hash,
    /// Tree head at `new_size`.
    pub new_root: Hash,
    /// The proof nodes.
    pub proof: Vec<Hash>,
}

type SharedStorage = Arc<Mutex<Box<dyn Storage>>>;

/// Where the writer answers an append: the range of sequence numbers it received.
type AppendReply = SyncSender<Result<Range<u64>, Error>>;

enum Request {
    Append {
        entries: Vec<String>,
        reply: AppendReply,
    },
    Checkpoint {
        reply: SyncSender<Result<String, Error>>,
    },
}

/// An open audit log. `Send + Sync`: share it in an `Arc` and append from many threads;
/// concurrent appends are committed together.
pub struct Ledger {
    path: PathBuf,
    storage: SharedStorage,
    requests: Option<Sender<Request>>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Ledger {
    /// Creates a new log at `path` (SQLite file) and its Ed25519 signing key beside it
    /// (`<path>.key`, mode 0600, and `<path>.pub`); refuses to overwrite any of them.
    pub fn create(path: &Path, origin: &str) -> Result<Ledger, Error> {
        Ledger::create_with(path, origin, LedgerOptions::default())
    }

    /// [`Ledger::create`] with options.
    pub fn create_with(path: &Path, origin: &str, options: LedgerOptions) -> Result<Ledger, Error> {
        if !is_valid_key_name(origin) {
            return Err(Error::InvalidOrigin {
                origin: origin.to_owned(),
                reason: "the origin is also the key name: non-empty, no spaces, no `+`".to_owned(),
            });
        }
        let (key, public) = (key_path(path), public_key_path(path));
        for p in [path, key.as_path(), public.as_path()] {
            if p.exists() {
                return Err(Error::AlreadyExists { path: p.to_owned() });
            }
        }
        let signer = NoteSigner::generate(origin)?;
        write_new_file(
            &key,
            format!("{}\n", signer.to_private_string()).as_bytes(),
            0o600,
        )?;
        write_new_file(
            &public,
            format!("{}\n", signer.verifier()).as_bytes(),
            0o644,
        )?;
        let storage = match SqliteStorage::create(path, origin) {
            Ok(storage) => storage,
            Err(e) => {
                // Without its log the new key is useless; removing it lets the user retry.
                let _ = std::fs::remove_file(&key);
                let _ = std::fs::remove_file(&public);
                return Err(e);
            }
        };
        Ledger::start(path, Box::new(storage), Some(signer), options)
    }

    /// Opens an existing log (and its key `<path>.key` if present, for checkpoints).
    pub fn open(path: &Path) -> Result<Ledger, Error> {
        Ledger::open_with(path, LedgerOptions::default())
    }

    /// [`Ledger::open`] with options.
    pub fn open_with(path: &Path, options: LedgerOptions) -> Result<Ledger, Error> {
        let mut storage = SqliteStorage::open(path)?;
        let signer = read_signer(&key_path(path))?;
        if let Some(signer) = &signer {
            let origin = storage.origin()?;
            if signer.name() != origin {
                return Err(Error::Key {
                    path: Some(key_path(path)),
                    reason: format!(
                        "key name `{}` is not the log origin `{origin}`",
                        signer.name()
                    ),
                });
            }
        }
        Ledger::start(path, Box::new(storage), signer, options)
    }

    /// Runs a ledger over any [`Storage`], with an optional signing key.
    pub fn with_storage(
        path: &Path,
        storage: Box<dyn Storage>,
        signer: Option<NoteSigner>,
        options: LedgerOptions,
    ) -> Result<Ledger, Error> {
        Ledger::start(path, storage, signer, options)
    }

    fn start(
        path: &Path,
        mut storage: Box<dyn Storage>,
        signer: Option<NoteSigner>,
        options: LedgerOptions,
    ) -> Result<Ledger, Error> {
        let size = storage.size()?;
        let frontier = Frontier::load(&mut StorageNodes(storage.as_mut()), size)?;
        let last_checkpoint = storage.checkpoints()?.last().map_or(0, |(s, _)| *s);
        let origin = storage.origin()?;
        let storage: SharedStorage = Arc::new(Mutex::new(storage));
        let (tx, rx) = mpsc::channel();
        let writer = Writer {
            path: path.to_owned(),
            origin,
            storage: Arc::clone(&storage),
            signer,
            options,
            frontier,
            last_checkpoint,
            last_checkpoint_at: Instant::now(),
        };
        let handle = std::thread::Builder::new()
            .name("ward-ledger-writer".to_owned())
            .spawn(move || writer.run(rx))
            .map_err(|e| Error::Io {
                action: "start the writer thread for",
                path: path.to_owned(),
                source: e,
            })?;
        Ok(Ledger {
            path: path.to_owned(),
            storage,
            requests: Some(tx),
            writer: Some(handle),
        })
    }

    /// Appends one JSON entry; returns its sequence number once it is durable on disk.
    /// Callable from many threads at once: concurrent appends are group-committed. It
    /// blocks until the commit (an fsync); async code calls it from a blocking task.
    pub fn append(&self, entry: &Value) -> Result<u64, Error> {
        let range = self.append_batch(std::slice::from_ref(entry))?;
        Ok(range.start)
    }

    /// Appends several entries in one request; returns their sequence numbers once they
    /// are durable. This is also the fast path for bulk loading.
    pub fn append_batch(&self, entries: &[Value]) -> Result<Range<u64>, Error> {
        let canonical = entries
            .iter()
            .map(canonical_json)
            .collect::<Result<Vec<_>, _>>()?;
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Request::Append {
            entries: canonical,
            reply,
        })?;
        answer.recv().map_err(|_| self.stopped())?
    }

    /// Signs and stores a checkpoint of the current tree; returns the signed note text.
    pub fn checkpoint(&self) -> Result<String, Error> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Request::Checkpoint { reply })?;
        answer.recv().map_err(|_| self.stopped())?
    }

    /// Number of entries.
    pub fn size(&self) -> Result<u64, Error> {
        self.lock()?.size()
    }

    /// The tree head of the first `size` entries.
    pub fn root(&self, size: u64) -> Result<Hash, Error> {
        let mut storage = self.lock()?;
        check_size(storage.size()?, size)?;
        merkle::root(&mut StorageNodes(storage.as_mut()), size)
    }

    /// The stored leaf bytes of entry `seq`.
    pub fn leaf(&self, seq: u64) -> Result<Vec<u8>, Error> {
        let mut storage = self.lock()?;
        let size = storage.size()?;
        storage
            .leaf(seq)?
            .map(|l| l.bytes)
            .ok_or_else(|| Error::Proof {
                reason: format!("no entry `{seq}`: the log has `{size}` entries"),
            })
    }

    /// Up to `limit` stored leaves from `from`, as `(seq, leaf bytes)`.
    pub fn leaves(&self, from: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, Error> {
        Ok(self
            .lock()?
            .leaves(from, limit)?
            .into_iter()
            .map(|l| (l.seq, l.bytes))
            .collect())
    }

    /// Proves that entry `seq` is in the tree of `size` entries (the current size if
    /// `None`).
    pub fn inclusion_proof(&self, seq: u64, size: Option<u64>) -> Result<InclusionProof, Error> {
        let mut storage = self.lock()?;
        let current = storage.size()?;
        let size = size.unwrap_or(current);
        check_size(current, size)?;
        let leaf = storage
            .leaf(seq)?
            .filter(|_| seq < size)
            .ok_or_else(|| Error::Proof {
                reason: format!("no entry `{seq}` in a tree of size `{size}`"),
            })?;
        let mut nodes = StorageNodes(storage.as_mut());
        let proof = merkle::inclusion_proof(&mut nodes, seq, size)?;
        let root = merkle::root(&mut nodes, size)?;
        Ok(InclusionProof {
            seq,
            size,
            leaf_hash: merkle::leaf_hash(&leaf.bytes),
            leaf: leaf.bytes,
            proof,
            root,
        })
    }

    /// Proves that the tree of `old` entries is a prefix of the tree of `new` entries (the
    /// current size if `None`).
    pub fn consistency_proof(&self, old: u64, new: Option<u64>) -> Result<ConsistencyProof, Error> {
        let mut storage = self.lock()?;
        let current = storage.size()?;
        let new = new.unwrap_or(current);
        check_size(current, new)?;
        let mut nodes = StorageNodes(storage.as_mut());
        let proof = merkle::consistency_proof(&mut nodes, old, new)?;
        Ok(ConsistencyProof {
            old_size: old,
            new_size: new,
            old_root: merkle::root(&mut nodes, old)?,
            new_root: merkle::root(&mut nodes, new)?,
            proof,
        })
    }

    /// Every stored checkpoint note, by increasing tree size.
    pub fn checkpoints(&self) -> Result<Vec<(u64, String)>, Error> {
        self.lock()?.checkpoints()
    }

    fn send(&self, request: Request) -> Result<(), Error> {
        self.requests
            .as_ref()
            .ok_or_else(|| self.stopped())?
            .send(request)
            .map_err(|_| self.stopped())
    }

    fn lock(&self) -> Result<MutexGuard<'_, Box<dyn Storage>>, Error> {
        self.storage.lock().map_err(|_| self.stopped())
    }

    fn stopped(&self) -> Error {
        Error::WriterStopped {
            path: self.path.clone(),
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        // Closing the channel lets the writer finish queued work, write the closing
        // checkpoint and exit.
        self.requests.take();
        if let Some(handle) = self.writer.take() {
            let _ = handle.join();
        }
    }
}

fn check_size(current: u64, size: u64) -> Result<(), Error> {
    if size > current {
        return Err(Error::Proof {
            reason: format!("tree size `{size}` is larger than the log (`{current}` entries)"),
        });
    }
    Ok(())
}

/// The single thread that orders and commits appends.
struct Writer {
    path: PathBuf,
    origin: String,
    storage: SharedStorage,
    signer: Option<NoteSigner>,
    options: LedgerOptions,
    frontier: Frontier,
    last_checkpoint: u64,
    last_checkpoint_at: Instant,
}

impl Writer {
    fn run(mut self, requests: Receiver<Request>) {
        loop {
            let first = match self.time_to_next_checkpoint() {
                Some(wait) => match requests.recv_timeout(wait) {
                    Ok(r) => r,
                    Err(RecvTimeoutError::Timeout) => {
                        self.periodic_checkpoint();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                },
                None => match requests.recv() {
                    Ok(r) => r,
                    Err(_) => break,
                },
            };
            let mut appends = Vec::new();
            let mut checkpoints = Vec::new();
            let mut count = 0usize;
            let mut next = Some(first);
            while let Some(request) = next {
                match request {
                    Request::Append { entries, reply } => {
                        count = count.saturating_add(entries.len());
                        appends.push((entries, reply));
                    }
                    Request::Checkpoint { reply } => checkpoints.push(reply),
                }
                next = if count < self.options.max_batch {
                    requests.try_recv().ok()
                } else {
                    None
                };
            }
            self.commit(appends);
            for reply in checkpoints {
                let _ = reply.send(self.write_checkpoint());
            }
            self.periodic_checkpoint();
        }
        if self.options.checkpoint_on_close && self.frontier.size() > self.last_checkpoint {
            let _ = self.write_checkpoint();
        }
    }

    fn time_to_next_checkpoint(&self) -> Option<Duration> {
        self.signer.as_ref()?;
        let every = self.options.checkpoint_every?;
        Some(
            every
                .saturating_sub(self.last_checkpoint_at.elapsed())
                .max(Duration::from_millis(1)),
        )
    }

    fn periodic_checkpoint(&mut self) {
        if self.signer.is_none() || self.frontier.size() <= self.last_checkpoint {
            return;
        }
        let new = self.frontier.size() - self.last_checkpoint;
        let by_count = self
            .options
            .checkpoint_every_entries
            .is_some_and(|n| new >= n);
        let by_time = self
            .options
            .checkpoint_every
            .is_some_and(|t| self.last_checkpoint_at.elapsed() >= t);
        if by_count || by_time {
            // A failed periodic checkpoint is retried at the next opportunity; appends
            // stay durable either way.
            let _ = self.write_checkpoint();
        }
    }

    fn commit(&mut self, appends: Vec<(Vec<String>, AppendReply)>) {
        if appends.is_empty() {
            return;
        }
        let before = self.frontier.clone();
        let time = entry::timestamp(SystemTime::now());
        let mut leaves = Vec::new();
        let mut nodes: Vec<Node> = Vec::new();
        let mut ranges = Vec::with_capacity(appends.len());
        let mut full = false;
        for (entries, _) in &appends {
            let start = self.frontier.size();
            let Some(end) = start
                .checked_add(entries.len() as u64)
                .filter(|e| *e <= merkle::MAX_LOG_SIZE)
            else {
                full = true;
                break;
            };
            for (seq, canonical) in (start..end).zip(entries) {
                let bytes = entry::leaf_bytes(canonical, seq, &time);
                let hash = merkle::leaf_hash(&bytes);
                self.frontier.push(hash, &mut nodes);
                leaves.push(NewLeaf { seq, bytes, hash });
            }
            ranges.push(start..end);
        }
        let result = if full {
            Err(Error::LogFull)
        } else {
            match self.storage.lock() {
                Ok(mut storage) => storage.commit(&leaves, &nodes),
                Err(_) => Err(Error::WriterStopped {
                    path: self.path.clone(),
                }),
            }
        };
        match result {
            Ok(()) => {
                for ((_, reply), range) in appends.into_iter().zip(ranges) {
                    let _ = reply.send(Ok(range));
                }
            }
            Err(e) => {
                // Another process may have appended meanwhile (the insert then fails on the
                // sequence number): start again from what is stored, or from the state
                // before this batch if storage cannot be read.
                self.frontier = self.reload().unwrap_or(before);
                let reason = e.to_string();
                for (_, reply) in appends {
                    let _ = reply.send(Err(Error::CommitFailed {
                        path: self.path.clone(),
                        reason: reason.clone(),
                    }));
                }
            }
        }
    }

    fn reload(&self) -> Result<Frontier, Error> {
        let mut storage = self.storage.lock().map_err(|_| Error::WriterStopped {
            path: self.path.clone(),
        })?;
        let size = storage.size()?;
        Frontier::load(&mut StorageNodes(storage.as_mut()), size)
    }

    fn write_checkpoint(&mut self) -> Result<String, Error> {
        let signer = self.signer.as_ref().ok_or_else(|| Error::NoSigningKey {
            path: key_path(&self.path),
        })?;
        let checkpoint = Checkpoint {
            origin: self.origin.clone(),
            size: self.frontier.size(),
            root: self.frontier.root(),
        };
        let note = signer.sign(&checkpoint.to_text());
        self.storage
            .lock()
            .map_err(|_| Error::WriterStopped {
                path: self.path.clone(),
            })?
            .put_checkpoint(checkpoint.size, &note)?;
        self.last_checkpoint = checkpoint.size;
        self.last_checkpoint_at = Instant::now();
        Ok(note)
    }
}

/// Creates `path` with `mode`, refusing to overwrite, and makes it durable: the bytes go
/// to a temporary file that is fsynced and then hard-linked into place (linking fails if
/// the name exists), and the directory is fsynced.
fn write_new_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    let io = |action: &'static str, source: std::io::Error| Error::Io {
        action,
        path: path.to_owned(),
        source,
    };
    let tmp = with_suffix(path, ".tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| io("create", e))?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    linked.map_err(|e| io("write", e))?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("sync the directory of", e))
}

/// Reads `<db>.key` if it exists, refusing keys other users can read.
fn read_signer(path: &Path) -> Result<Option<NoteSigner>, Error> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Io {
                action: "read",
                path: path.to_owned(),
                source: e,
            });
        }
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::KeyPermissions {
            path: path.to_owned(),
            mode,
        });
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
        action: "read",
        path: path.to_owned(),
        source: e,
    })?;
    NoteSigner::parse(&text).map(Some).map_err(|e| Error::Key {
        path: Some(path.to_owned()),
        reason: e.to_string(),
    })
}

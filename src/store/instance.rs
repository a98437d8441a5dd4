//! Who owns a data directory's embedded servers: one goalgraph process at a time holds an
//! exclusive lock on `<data-dir>/instance.lock` (the kernel releases it however that process
//! dies, SIGKILL included), and `goalgraph serve` records in `<data-dir>/instance.json` where
//! its databases are, so other subcommands use them instead of starting servers of their own.
//!
//! Whoever takes the lock and finds a record left behind knows its writer is gone, and
//! reclaims the servers it recorded (after checking each recorded process is still the
//! server it was) before starting its own.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

const LOCK_FILE: &str = "instance.lock";
const RECORD_FILE: &str = "instance.json";

/// Where a running instance's databases are.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRecord {
    /// The process holding the lock (`goalgraph serve`).
    pub pid: u32,
    /// The PostgreSQL URL it serves from (secret: it carries a password).
    pub database_url: String,
    /// The MongoDB URI it serves from.
    pub mongodb_uri: String,
    /// The local MongoDB-compatible server it started, if any (reclaimed after a crash).
    pub mongodb_pid: Option<u32>,
}

impl std::fmt::Debug for InstanceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceRecord")
            .field("pid", &self.pid)
            .field("database_url", &"<redacted>")
            .field("mongodb_uri", &"<redacted>")
            .field("mongodb_pid", &self.mongodb_pid)
            .finish()
    }
}

/// The outcome of [`claim`].
#[derive(Debug)]
pub enum Claim {
    /// This process now owns the data directory; `leftover` is what a dead owner recorded.
    Owned {
        lock: InstanceLock,
        leftover: Option<InstanceRecord>,
    },
    /// Another live process owns it; its record once it has written one.
    Taken(Option<InstanceRecord>),
}

/// The held lock on a data directory; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    dir: PathBuf,
}

/// Tries to take `data_dir`'s lock without waiting.
pub fn claim(data_dir: &Path) -> std::io::Result<Claim> {
    std::fs::create_dir_all(data_dir)?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data_dir.join(LOCK_FILE))?;
    match file.try_lock() {
        Ok(()) => Ok(Claim::Owned {
            leftover: read_record(data_dir),
            lock: InstanceLock {
                _file: file,
                dir: data_dir.to_path_buf(),
            },
        }),
        Err(TryLockError::WouldBlock) => Ok(Claim::Taken(read_record(data_dir))),
        Err(TryLockError::Error(err)) => Err(err),
    }
}

/// The record of the live owner of `data_dir`, waiting up to `wait` for one that is still
/// starting to write it.
pub async fn running_instance(data_dir: &Path, wait: Duration) -> Option<InstanceRecord> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match claim(data_dir) {
            Ok(Claim::Taken(Some(record))) => return Some(record),
            Ok(Claim::Taken(None)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            _ => return None,
        }
    }
}

impl InstanceLock {
    /// Records where this instance's databases are (readable by this user only).
    pub fn record(&self, record: &InstanceRecord) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
        let temporary = self.dir.join(format!("{RECORD_FILE}.tmp"));
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&temporary)?;
        std::io::Write::write_all(&mut file, &text)?;
        std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(temporary, self.dir.join(RECORD_FILE))
    }

    /// Removes the record (a clean shutdown leaves nothing to reclaim).
    pub fn clear(&self) {
        let _ = std::fs::remove_file(self.dir.join(RECORD_FILE));
    }
}

fn read_record(data_dir: &Path) -> Option<InstanceRecord> {
    serde_json::from_slice(&std::fs::read(data_dir.join(RECORD_FILE)).ok()?).ok()
}

/// Whether process `pid` is alive and its command line contains `program` (so a recycled pid
/// is never mistaken for the server it once was).
pub fn process_runs(pid: u32, program: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(program))
}

/// Stops process `pid` if it still runs `program`: SIGTERM, then SIGKILL after `grace`.
pub async fn stop_process(pid: u32, program: &str, grace: Duration) -> std::io::Result<()> {
    if !process_runs(pid, program) {
        return Ok(());
    }
    signal(pid, "-TERM").await?;
    let deadline = tokio::time::Instant::now() + grace;
    while process_runs(pid, program) {
        if tokio::time::Instant::now() >= deadline {
            signal(pid, "-KILL").await?;
            tokio::time::sleep(Duration::from_millis(200)).await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

async fn signal(pid: u32, signal: &str) -> std::io::Result<()> {
    // std has no signal API and this crate forbids unsafe code; `kill` is POSIX.
    tokio::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_is_refused_while_the_first_is_held_and_sees_the_record() {
        let dir = std::env::temp_dir().join(format!("gg-instance-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let Claim::Owned { lock, leftover } = claim(&dir).expect("claim") else {
            panic!("first claim must own the directory");
        };
        assert!(leftover.is_none());
        let record = InstanceRecord {
            pid: std::process::id(),
            database_url: "postgresql://u:secret@127.0.0.1:1/db".into(),
            mongodb_uri: "mongodb://127.0.0.1:2/".into(),
            mongodb_pid: None,
        };
        lock.record(&record).expect("record");
        match claim(&dir).expect("second claim") {
            Claim::Taken(Some(seen)) => assert_eq!(seen, record),
            other => panic!("expected the directory to be taken: {other:?}"),
        }
        assert!(!format!("{record:?}").contains("secret"));
        drop(lock);
        // The owner is gone: the next claim owns it and finds what was left behind.
        match claim(&dir).expect("third claim") {
            Claim::Owned { leftover, .. } => assert_eq!(leftover, Some(record)),
            other => panic!("expected ownership: {other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! An optional log of every distinct SQL statement this process runs, one JSON line each,
//! written when `GOALGRAPH_SQL_STATEMENT_LOG` names a file: the test suite sets it so a check
//! can hold every statement it ran to what a database distributed by tenant needs (each
//! tenant-owned table read or written under a `tenant_id` predicate). Off (nothing written,
//! one branch per statement) otherwise.

use std::collections::HashSet;
use std::fs::File;
use std::io::Write as _;
use std::sync::{LazyLock, Mutex};

/// The log and the statements this process has written to it already.
struct StatementLog {
    file: File,
    seen: HashSet<String>,
}

static LOG: LazyLock<Option<Mutex<StatementLog>>> = LazyLock::new(|| {
    let path = std::env::var_os("GOALGRAPH_SQL_STATEMENT_LOG")?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .ok()?;
    Some(Mutex::new(StatementLog {
        file,
        seen: HashSet::new(),
    }))
});

/// Appends `sql` to the log the first time this process runs it, when a log is configured.
pub fn record(sql: &str) {
    let Some(log) = LOG.as_ref() else {
        return;
    };
    let Ok(mut log) = log.lock() else {
        return;
    };
    if log.seen.contains(sql) {
        return;
    }
    log.seen.insert(sql.to_owned());
    // One write per line: other processes (replicas the suite starts) append to the same file.
    let line = format!("{}\n", serde_json::json!({ "sql": sql }));
    let _ = log.file.write_all(line.as_bytes());
}

//! An optional log of every MongoDB command this process sends, one JSON line each (name and
//! command document), written when `GOALGRAPH_MONGO_COMMAND_LOG` names a file: the test suite
//! sets it so a check can hold every command it sent to what a sharded cluster targets (each
//! filter led by `tenant_id`). Off (nothing written, one branch per command) otherwise.

use std::fs::File;
use std::io::Write as _;
use std::sync::{LazyLock, Mutex};

use mongodb::bson::Bson;
use mongodb::event::command::CommandStartedEvent;

static LOG: LazyLock<Option<Mutex<File>>> = LazyLock::new(|| {
    let path = std::env::var_os("GOALGRAPH_MONGO_COMMAND_LOG")?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .ok()
        .map(Mutex::new)
});

/// Appends `event`'s command to the log, when one is configured.
pub fn record(event: &CommandStartedEvent) {
    let Some(log) = LOG.as_ref() else {
        return;
    };
    let line = serde_json::json!({
        "name": event.command_name,
        "command": Bson::Document(event.command.clone()).into_relaxed_extjson(),
    });
    // One write per line: other processes (replicas the suite starts) append to the same file.
    let line = format!("{line}\n");
    if let Ok(mut file) = log.lock() {
        let _ = file.write_all(line.as_bytes());
    }
}

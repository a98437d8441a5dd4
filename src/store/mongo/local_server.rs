//! The local MongoDB-compatible server used when no `MONGODB_URI` is configured: SecantusDB
//! (`secantusdb` from PyPI, GPL-2.0) installed into a project-local Python venv and run as a
//! separate child process — never linked or bundled. It presents itself as a one-node replica
//! set, so transactions and change streams work.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// The SecantusDB release goalgraph is tested with.
pub const SECANTUS_PACKAGE: &str = "secantusdb==0.7.0b3";

/// Why the local server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LocalMongoError {
    #[error("local MongoDB server: {0}")]
    Io(#[from] std::io::Error),
    #[error("local MongoDB server: {0}")]
    Setup(String),
}

/// Where the server keeps its data.
#[derive(Debug, Clone)]
pub enum Storage {
    /// Nothing on disk (tests).
    Memory,
    /// A data directory kept across restarts.
    Directory(PathBuf),
}

/// A running SecantusDB child process; killed when stopped or dropped.
pub struct LocalMongo {
    child: Child,
    port: u16,
}

impl LocalMongo {
    /// Installs SecantusDB into `venv` if needed, then starts it on a free loopback port.
    pub async fn start(venv: &Path, storage: Storage) -> Result<Self, LocalMongoError> {
        Self::start_on(venv, storage, free_port()?).await
    }

    /// Like [`LocalMongo::start`], on a given port (to restart a server where clients expect it).
    pub async fn start_on(
        venv: &Path,
        storage: Storage,
        port: u16,
    ) -> Result<Self, LocalMongoError> {
        let daemon = ensure_installed(venv).await?;
        let storage_arg = match &storage {
            Storage::Memory => ":memory:".to_owned(),
            Storage::Directory(dir) => {
                std::fs::create_dir_all(dir)?;
                dir.display().to_string()
            }
        };
        let child = Command::new(daemon)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--storage-path", &storage_arg, "--log-level", "WARNING"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let mut server = Self { child, port };
        server.wait_until_listening(Duration::from_secs(60)).await?;
        Ok(server)
    }

    /// The connection string for this server.
    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}/?directConnection=true", self.port)
    }

    /// The server's process id (while it runs).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server gracefully (SIGTERM, so it checkpoints its data) and waits for it to
    /// exit; kills it if it has not exited within 20 s.
    pub async fn stop(mut self) -> Result<(), LocalMongoError> {
        if let Some(pid) = self.child.id() {
            // std has no signal API; `kill` is POSIX and always present.
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
            if tokio::time::timeout(Duration::from_secs(20), self.child.wait())
                .await
                .is_ok()
            {
                return Ok(());
            }
        }
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }

    async fn wait_until_listening(&mut self, limit: Duration) -> Result<(), LocalMongoError> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(LocalMongoError::Setup(format!(
                    "exited early with {status}"
                )));
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(LocalMongoError::Setup(
                    "did not start listening in time".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Creates the venv and installs SecantusDB unless the daemon is already there; returns the
/// daemon's path.
pub async fn ensure_installed(venv: &Path) -> Result<PathBuf, LocalMongoError> {
    let daemon = venv.join("bin").join("secantusd-py");
    if daemon.exists() {
        return Ok(daemon);
    }
    let python = std::env::var("GOALGRAPH_PYTHON").unwrap_or_else(|_| "python3".into());
    run(Command::new(&python).arg("-m").arg("venv").arg(venv)).await?;
    run(Command::new(venv.join("bin").join("pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        SECANTUS_PACKAGE,
    ]))
    .await?;
    if !daemon.exists() {
        return Err(LocalMongoError::Setup(format!(
            "{} is missing after install",
            daemon.display()
        )));
    }
    Ok(daemon)
}

async fn run(command: &mut Command) -> Result<(), LocalMongoError> {
    let status = command.stdin(Stdio::null()).status().await?;
    if !status.success() {
        return Err(LocalMongoError::Setup(format!(
            "{command:?} failed with {status}"
        )));
    }
    Ok(())
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

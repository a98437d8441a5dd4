//! The embedded PostgreSQL used when no `DATABASE_URL` is configured, through the
//! `postgresql_embedded` crate.
//!
//! An installed PostgreSQL (Debian's `/usr/lib/postgresql/<major>`, or `GOALGRAPH_PG_INSTALL_DIR`)
//! is used as is via `trust_installation_dir`; without one the crate downloads a build. PostgreSQL
//! refuses to run as root, so when this process is root the installation is reached through a
//! directory of small wrapper scripts that run each binary as an unprivileged user (`postgres`
//! when it exists), and the data directory belongs to that user.

use std::os::unix::fs::{MetadataExt, PermissionsExt, chown};
use std::path::{Path, PathBuf};
use std::time::Duration;

use postgresql_embedded::{PostgreSQL, Settings};

/// Why the embedded PostgreSQL could not be started.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("embedded PostgreSQL: {0}")]
    Postgres(#[from] postgresql_embedded::Error),
    #[error("embedded PostgreSQL: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "running as root needs an installed PostgreSQL (apt-get install postgresql) and an \
         unprivileged user to run it as ({0}); or set DATABASE_URL"
    )]
    RootWithoutInstallation(String),
    #[error(
        "embedded PostgreSQL: its data directory is in use by server process {0} (another \
         goalgraph?); stop that one, or point DATABASE_URL at it"
    )]
    AlreadyRunning(u32),
}

/// A running embedded PostgreSQL. Stopped by [`EmbeddedPostgres::stop`] (or on drop).
pub struct EmbeddedPostgres {
    server: PostgreSQL,
}

/// What to do about a server already running on the data directory.
#[derive(Debug, Clone, Copy)]
enum Orphan {
    Refuse,
    Reclaim,
}

/// The unprivileged account the server runs as when we are root.
pub struct RunAs {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl EmbeddedPostgres {
    /// Starts (initialising on first use) a server whose data lives in `root/data`; `port` 0
    /// picks a free port. A server already running on that directory is left alone and the
    /// start refused.
    pub async fn start(root: &Path, port: u16) -> Result<Self, EmbeddedError> {
        Self::start_with(root, port, Orphan::Refuse).await
    }

    /// Like [`EmbeddedPostgres::start`], first stopping a server left running on the directory
    /// by an owner known to be dead (see `store::instance`).
    pub async fn start_reclaiming(root: &Path, port: u16) -> Result<Self, EmbeddedError> {
        Self::start_with(root, port, Orphan::Reclaim).await
    }

    async fn start_with(root: &Path, port: u16, orphan: Orphan) -> Result<Self, EmbeddedError> {
        std::fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        let pid_file = root.join("data").join("postmaster.pid");
        let running = running_postmaster(&pid_file);
        // Checked before any handle exists: dropping a handle stops the server it points at,
        // and a refused start must never stop what it did not start.
        if let (Some(pid), Orphan::Refuse) = (running, orphan) {
            return Err(EmbeddedError::AlreadyRunning(pid));
        }
        let installed = find_installation();
        let defaults = Settings::default();
        // Settings::default() makes two scratch directories of its own; ours replace them.
        let _ = std::fs::remove_dir_all(&defaults.data_dir);
        if let Some(scratch) = defaults.password_file.parent() {
            let _ = std::fs::remove_dir_all(scratch);
        }
        let mut settings = Settings {
            data_dir: root.join("data"),
            password_file: root.join("password"),
            password: stable_password(&root.join("password"))?,
            host: "127.0.0.1".into(),
            port,
            temporary: false,
            timeout: Some(Duration::from_secs(120)),
            ..defaults
        };
        if process_is_root()? {
            let install = installed.ok_or_else(|| {
                EmbeddedError::RootWithoutInstallation("no installation found".into())
            })?;
            let run_as = unprivileged_user()
                .ok_or_else(|| EmbeddedError::RootWithoutInstallation("no postgres user".into()))?;
            give_to(&root, &run_as)?;
            settings.installation_dir = write_shims(&root, &install, &run_as)?;
            settings.trust_installation_dir = true;
        } else if let Some(install) = installed {
            settings.installation_dir = install;
            settings.trust_installation_dir = true;
        }
        let mut server = PostgreSQL::new(settings);
        server.setup().await?;
        if let Some(pid) = running {
            tracing::warn!(pid, "stopping the PostgreSQL a dead goalgraph left running");
            server.stop().await?;
        }
        // A previous run died without stopping its server: clear its stale lock.
        let _ = std::fs::remove_file(&pid_file);
        server.start().await?;
        Ok(Self { server })
    }

    /// A connection URL for `database` on this server.
    pub fn url(&self, database: &str) -> String {
        self.server.settings().url(database)
    }

    /// Creates `database` unless it exists.
    pub async fn ensure_database(&self, database: &str) -> Result<(), EmbeddedError> {
        if !self.server.database_exists(database).await? {
            self.server.create_database(database).await?;
        }
        Ok(())
    }

    /// Stops the server, waiting for a clean shutdown.
    pub async fn stop(self) -> Result<(), EmbeddedError> {
        self.server.stop().await?;
        Ok(())
    }
}

/// The process id in a `postmaster.pid` lock file, if that process is alive.
fn running_postmaster(pid_file: &Path) -> Option<u32> {
    let content = std::fs::read_to_string(pid_file).ok()?;
    let pid: u32 = content.lines().next()?.trim().parse().ok()?;
    Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
}

/// The newest installed PostgreSQL: `GOALGRAPH_PG_INSTALL_DIR`, else Debian's layout.
fn find_installation() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("GOALGRAPH_PG_INSTALL_DIR") {
        return Some(PathBuf::from(dir));
    }
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let dir = entry.path();
            dir.join("bin")
                .join("initdb")
                .exists()
                .then_some((major, dir))
        })
        .collect();
    majors.sort();
    majors.pop().map(|(_, dir)| dir)
}

/// Whether this process runs as root (PostgreSQL, like pgBouncer, refuses to).
pub fn process_is_root() -> std::io::Result<bool> {
    // /proc/self belongs to the effective user of this process.
    Ok(std::fs::metadata("/proc/self")?.uid() == 0)
}

/// The account servers that refuse root run as: `GOALGRAPH_PG_RUN_AS`, default `postgres`.
pub fn unprivileged_user() -> Option<RunAs> {
    let wanted = std::env::var("GOALGRAPH_PG_RUN_AS").unwrap_or_else(|_| "postgres".into());
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() > 3 && fields[0] == wanted).then(|| RunAs {
                name: wanted.clone(),
                uid: fields[2].parse().unwrap_or(0),
                gid: fields[3].parse().unwrap_or(0),
            })
        })
        .filter(|user| user.uid != 0)
}

/// Makes `root` (and everything already in it) belong to the server's user.
fn give_to(root: &Path, user: &RunAs) -> std::io::Result<()> {
    chown(root, Some(user.uid), Some(user.gid))?;
    for entry in std::fs::read_dir(root)? {
        let path = entry?.path();
        if path.file_name().is_some_and(|n| n == "bin") {
            continue;
        }
        chown(&path, Some(user.uid), Some(user.gid))?;
    }
    Ok(())
}

/// Writes `root/bin/<program>` wrappers that run the installed binaries as `user`, and returns
/// `root` for use as the installation directory.
fn write_shims(root: &Path, install: &Path, user: &RunAs) -> std::io::Result<PathBuf> {
    let shim_bin = root.join("bin");
    std::fs::create_dir_all(&shim_bin)?;
    for entry in std::fs::read_dir(install.join("bin"))? {
        let real = entry?.path();
        let Some(name) = real.file_name() else {
            continue;
        };
        let script = format!(
            "#!/bin/sh\n# Generated by goalgraph: PostgreSQL refuses to run as root.\n\
             cd / && exec runuser -u {} -- '{}' \"$@\"\n",
            user.name,
            real.display()
        );
        let shim = shim_bin.join(name);
        std::fs::write(&shim, script)?;
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(root.to_path_buf())
}

/// The superuser password of this data directory: generated once, then read back, so a
/// restart can log in to the cluster it initialised before.
fn stable_password(file: &Path) -> std::io::Result<String> {
    if let Ok(existing) = std::fs::read_to_string(file) {
        let existing = existing.trim().to_owned();
        if !existing.is_empty() {
            return Ok(existing);
        }
    }
    let mut random = [0u8; 18];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut random)?;
    let password: String = random.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(file, &password)?;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
    Ok(password)
}

//! The container route: the Dockerfile's build context (only what it copies) builds the binary
//! with the Dockerfile's cargo command, and `docker-compose.yml` is a valid compose file. No
//! Docker engine runs here, so the image itself is not built.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The sources of the build stage's `COPY` instructions (before the first `FROM … AS` stage
/// ends), relative to the repository.
fn build_stage_copies(dockerfile: &str) -> Vec<String> {
    let mut copies = Vec::new();
    let mut stages = 0;
    for line in dockerfile.lines().map(str::trim) {
        if line.starts_with("FROM ") {
            stages += 1;
            if stages > 1 {
                break;
            }
        }
        if let Some(arguments) = line.strip_prefix("COPY ") {
            let parts: Vec<&str> = arguments.split_whitespace().collect();
            if parts.iter().any(|part| part.starts_with("--from")) {
                continue;
            }
            copies.extend(
                parts[..parts.len() - 1]
                    .iter()
                    .map(|part| (*part).to_owned()),
            );
        }
    }
    copies
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read dir") {
            let entry = entry.expect("entry");
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(from, to).expect("copy");
    }
}

#[test]
#[ignore = "compiles the binary (about a minute): scripts/test runs it after the suite, alone"]
fn the_dockerfile_build_context_builds_the_binary() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile");
    assert!(
        dockerfile
            .contains("RUN cargo build --release --locked --no-default-features --bin goalgraph"),
        "the build command this test stands for changed"
    );
    // Under target/, so the build reuses the compiled dependencies.
    let context = root().join("target").join("docker-context");
    let _ = std::fs::remove_dir_all(&context);
    let copies = build_stage_copies(&dockerfile);
    assert!(copies.iter().any(|copy| copy == "src"), "{copies:?}");
    for copy in &copies {
        copy_tree(&root().join(copy), &context.join(copy));
    }
    // The Dockerfile's command, in the debug profile and with the suite's target directory
    // (so the dependencies are not compiled again): it loads the manifest with every target
    // it declares and the lock file (--locked), then builds the binary from the context
    // without the embedded development stores. (It replaces target/debug/goalgraph: the next
    // `cargo build` links the default one back.)
    let output = std::process::Command::new(env!("CARGO"))
        .args([
            "build",
            "--locked",
            "--offline",
            "--no-default-features",
            "--bin",
            "goalgraph",
        ])
        .env("CARGO_TARGET_DIR", root().join("target"))
        .current_dir(&context)
        .output()
        .expect("cargo");
    assert!(
        output.status.success(),
        "cargo cannot load the manifest in the Dockerfile's context ({copies:?}):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The image's binary has no development stores: it asks for real ones.
    let binary = root().join("target").join("debug").join("goalgraph");
    let served = std::process::Command::new(&binary)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .env_remove("MONGODB_URI")
        .env(
            "GOALGRAPH_JWT_SECRET",
            "a-secret-that-is-long-enough-for-hs256",
        )
        .env("GOALGRAPH_DATA_DIR", context.join("data"))
        .output()
        .expect("run the image's binary");
    let said = String::from_utf8_lossy(&served.stderr);
    assert!(!served.status.success());
    assert!(
        said.contains("built without embedded stores") && said.contains("DATABASE_URL"),
        "{said}"
    );
    let subcommands = std::process::Command::new(&binary)
        .arg("--help")
        .output()
        .expect("help");
    let help = String::from_utf8_lossy(&subcommands.stdout);
    assert!(
        help.contains("serve") && !help.contains("postgres"),
        "{help}"
    );
}

/// `goalgraph serve` bound to every interface without store URLs, with `environment`.
fn serve_on_the_network(data_dir: &Path, environment: &[(&str, &str)]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_goalgraph"))
        .args(["serve", "--bind", "0.0.0.0:0"])
        .env_remove("DATABASE_URL")
        .env_remove("MONGODB_URI")
        .env_remove("GOALGRAPH_EMBEDDED_STORES_ON_NETWORK")
        .env(
            "GOALGRAPH_JWT_SECRET",
            "a-secret-that-is-long-enough-for-hs256",
        )
        .env("GOALGRAPH_DATA_DIR", data_dir)
        .envs(environment.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("goalgraph serve")
}

#[test]
fn serve_on_a_network_address_refuses_the_embedded_stores() {
    let data_dir = std::env::temp_dir().join(format!("gg-network-{}", std::process::id()));
    let refused = serve_on_the_network(&data_dir, &[])
        .wait_with_output()
        .expect("exits");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{said}");
    assert!(
        said.contains("refusing to serve on 0.0.0.0:0 with embedded development stores")
            && said.contains("DATABASE_URL and MONGODB_URI")
            && said.contains("GOALGRAPH_EMBEDDED_STORES_ON_NETWORK"),
        "{said}"
    );
    assert!(
        !data_dir.join("postgres").exists(),
        "nothing was started before refusing"
    );
    // With one store configured, the message names only the other.
    let half = serve_on_the_network(&data_dir, &[("DATABASE_URL", "postgres://db.internal/x")])
        .wait_with_output()
        .expect("exits");
    let said = String::from_utf8_lossy(&half.stderr);
    assert!(
        said.contains("set MONGODB_URI (or bind") && !said.contains("DATABASE_URL and"),
        "{said}"
    );
}

#[test]
fn docker_compose_yml_is_a_valid_compose_file() {
    let output = std::process::Command::new("docker-compose")
        .args(["-f", "docker-compose.yml", "config", "--quiet"])
        .current_dir(root())
        .output()
        .expect("docker-compose (scripts/test installs Debian's)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

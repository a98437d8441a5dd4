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
        dockerfile.contains("RUN cargo build --release --locked --bin goalgraph"),
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
    // it declares and the lock file (--locked), then builds the binary from the context.
    let output = std::process::Command::new(env!("CARGO"))
        .args(["build", "--locked", "--offline", "--bin", "goalgraph"])
        .env("CARGO_TARGET_DIR", root().join("target"))
        .current_dir(&context)
        .output()
        .expect("cargo");
    assert!(
        output.status.success(),
        "cargo cannot load the manifest in the Dockerfile's context ({copies:?}):\n{}",
        String::from_utf8_lossy(&output.stderr)
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

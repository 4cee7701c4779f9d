//! `ward-fixtures DIR [--manifest FILE]`: writes the whole generated corpus below `DIR`,
//! for the demo and the benchmark.
//!
//! With `--manifest FILE` it also writes a JSON array with, for every fixture, its path
//! relative to `DIR` and the finding codes a scan must report (`[]` for a benign one), so
//! that scripts can score any scanner against the same expectations as ward's tests.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

const USAGE: &str = "usage: ward-fixtures DIR [--manifest FILE]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<()> {
    let mut dir: Option<PathBuf> = None;
    let mut manifest: Option<PathBuf> = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--manifest" {
            let Some(path) = args.next() else {
                bail!("`--manifest` needs a file name\n{USAGE}");
            };
            manifest = Some(PathBuf::from(path));
        } else if arg == "-h" || arg == "--help" {
            println!("{USAGE}");
            return Ok(());
        } else if dir.is_none() {
            dir = Some(PathBuf::from(arg));
        } else {
            bail!("unexpected argument `{}`\n{USAGE}", arg.to_string_lossy());
        }
    }
    let Some(dir) = dir else {
        bail!("missing output directory\n{USAGE}");
    };

    let fixtures = ward_fixtures::all();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    for fixture in &fixtures {
        fixture.write(&dir).with_context(|| {
            format!(
                "cannot write fixture `{}` below `{}`",
                fixture.name,
                dir.display()
            )
        })?;
    }
    if let Some(path) = manifest {
        let entries: Vec<serde_json::Value> = fixtures
            .iter()
            .map(|fixture| serde_json::json!({ "name": fixture.name, "expect": fixture.expect }))
            .collect();
        let text = serde_json::to_string_pretty(&entries)?;
        std::fs::write(&path, text + "\n")
            .with_context(|| format!("cannot write manifest `{}`", path.display()))?;
    }
    eprintln!("wrote {} fixtures to {}", fixtures.len(), dir.display());
    Ok(())
}

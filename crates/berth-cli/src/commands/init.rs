//! `berth init`: a commented starter berth.yaml, never over an existing file.

use std::path::PathBuf;

use berth_core::{Problem, Problems};

use super::Exit;
use crate::cli::Global;

const STARTER: &str = include_str!("../starter.yaml");

pub fn run(global: &Global, name: Option<&str>) -> Result<Exit, Problems> {
    let path = global
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from(berth_core::load::FILE_NAME));
    let name = name
        .map(str::to_owned)
        .unwrap_or_else(|| default_name(&path));
    if let Some(problem) =
        berth_core::load::dns_label_problem("ecosystem name", &name, Default::default())
    {
        return Err(Problems::one(Problem::new(problem.message).help(format!(
            "{}; pass one with `berth init --name NAME`",
            problem.help.unwrap_or_default()
        ))));
    }
    let text = STARTER.replace("name: starter", &format!("name: {name}"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| {
            let problem = if e.kind() == std::io::ErrorKind::AlreadyExists {
                Problem::new(format!("{} already exists", path.display()))
                    .help("berth init never overwrites a file: edit it, or remove it first")
            } else {
                Problem::new(format!("cannot create {}: {e}", path.display()))
            };
            Problems::one(problem)
        })?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|e| {
        Problems::one(Problem::new(format!(
            "cannot write {}: {e}",
            path.display()
        )))
    })?;
    println!(
        "wrote {} — next: `berth check` and `berth plan`",
        path.display()
    );
    Ok(Exit::Success)
}

/// The name of the directory berth.yaml goes in, made into a DNS label.
fn default_name(path: &std::path::Path) -> String {
    let dir = std::fs::canonicalize(
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new(".")),
    )
    .ok()
    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
    .unwrap_or_default();
    let label: String = dir
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let label = label
        .trim_matches('-')
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .to_owned();
    if label.is_empty() {
        "my-ecosystem".to_owned()
    } else {
        label
    }
}

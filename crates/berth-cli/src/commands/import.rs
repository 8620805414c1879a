//! `berth import compose FILE...`: a berth.yaml from a Docker Compose project,
//! with a note for everything it could not carry over.

use std::path::Path;

use berth_core::source::SourceFile;
use berth_core::{Problem, Problems};
use serde_json::json;

use super::way_back::way_back;
use super::{Exit, new_file};
use crate::cli::{Format, Global, ImportSource};
use crate::output;

pub fn run(global: &Global, from: &ImportSource) -> Result<Exit, Problems> {
    let ImportSource::Compose { files, name } = from;
    let sources = files
        .iter()
        .map(|path| read(path))
        .collect::<Result<Vec<_>, _>>()?;
    let path = new_file::path(global);
    // Compose's project folder is the first file's; its `.env` fills in variables.
    let project = files[0]
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let here = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dotenv = project.join(".env");
    let dotenv = dotenv.is_file().then(|| read(&dotenv)).transpose()?;
    let read_named = |name: &str| {
        std::fs::read_to_string(name)
            .map(|text| SourceFile::new(name, text))
            .map_err(|e| e.to_string())
    };
    let source = berth_import::Source {
        files: sources,
        dotenv,
        folder: way_back(here, project),
        read: &read_named,
    };
    // As compose names a project by default: its folder's name, as it is.
    let folder = std::fs::canonicalize(project)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let imported = berth_import::compose(&source, name.as_deref(), &folder)?;
    // What the import writes must load: a file berth itself cannot read is a
    // bug here, and is not written.
    let project = berth_core::load_str(&path.display().to_string(), &imported.text).map_err(
        |mut problems| {
            problems.0.push(
                Problem::new(format!(
                    "the import made a {} that berth cannot read, so it wrote none",
                    path.display()
                ))
                .help("this is berth's fault, not the compose files': report it with the files"),
            );
            problems
        },
    )?;
    new_file::create(&path, &imported.text, "import compose")?;
    let services = project.ecosystem(None).map_or(0, |e| e.services.len());
    if global.output == Format::Json {
        let notes: Vec<_> = imported
            .notes
            .iter()
            .map(|note| json!({ "location": note.location, "message": note.message }))
            .collect();
        output::json(&json!({ "file": path, "services": services, "notes": notes }));
        return Ok(Exit::Success);
    }
    for note in &imported.notes {
        eprintln!("note: {note}");
    }
    println!(
        "wrote {} — {services} services, {} notes on what was not carried over; next: `berth check`, then `berth up`",
        path.display(),
        imported.notes.len()
    );
    Ok(Exit::Success)
}

fn read(path: &Path) -> Result<SourceFile, Problems> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Problems::one(
            Problem::new(format!("cannot read {}: {e}", path.display()))
                .help("name the compose files to import, as `docker compose -f` takes them"),
        )
    })?;
    Ok(SourceFile::new(path.display().to_string(), text))
}

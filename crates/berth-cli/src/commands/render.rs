//! `berth render`: the files other tools read, generated from berth.yaml.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use berth_core::model::Runtime;
use berth_core::{Ecosystem, Problem, Problems, Project};
use berth_render::File;
use clap::ValueEnum;

use super::{Exit, ecosystem, env_files};
use crate::cli::{Global, Target};

pub fn run(
    global: &Global,
    to: Target,
    dir: Option<&Path>,
    verbose: bool,
    images: &[String],
) -> Result<Exit, Problems> {
    if !images.is_empty() && !matches!(to, Target::Compose | Target::Kubernetes) {
        return Err(Problems::one(
            Problem::new("`--image` is for one environment's files")
                .help("use it with `--to kubernetes` or `--to compose`"),
        ));
    }
    if dir.is_none() && matches!(to, Target::Kustomize | Target::All) {
        // A tree of files is not a stream `kubectl apply -f -` could take.
        return Err(Problems::one(
            Problem::new("this target is a tree of files, not one stream")
                .help("give it a directory: `berth render --to kustomize --dir k8s`"),
        ));
    }
    ecosystem(global, |project, ecosystem| {
        let ecosystem = &with_images(ecosystem, images)?;
        let files = render(to, project, ecosystem, dir)?;
        if matches!(to, Target::Kubernetes | Target::Kustomize | Target::All) {
            let on_kubernetes = project.ecosystems_on(Runtime::Kubernetes);
            let notes = match to {
                Target::Kubernetes => berth_render::kubernetes_notes(ecosystem),
                _ => on_kubernetes
                    .flat_map(berth_render::kubernetes_notes)
                    .collect(),
            };
            for note in notes {
                eprintln!("note: {note}");
            }
        }
        match dir {
            Some(dir) => write(dir, &files, verbose)?,
            None => print(&files),
        }
        Ok(Exit::Success)
    })
}

/// The ecosystem with each `SERVICE=IMAGE` of `--image` in place of the image
/// berth.yaml gives.
fn with_images(ecosystem: &Ecosystem, images: &[String]) -> Result<Ecosystem, Problems> {
    let mut ecosystem = ecosystem.clone();
    for pair in images {
        let Some((service, image)) = pair
            .split_once('=')
            .filter(|(s, i)| !s.is_empty() && !i.is_empty())
        else {
            return Err(Problems::one(
                Problem::new(format!("`--image {pair}` is not SERVICE=IMAGE"))
                    .help("write it as `--image api=ghcr.io/acme/api:1.4.2`"),
            ));
        };
        if !ecosystem.services.contains_key(service) {
            let known = ecosystem.services.keys().map(String::as_str);
            let help = berth_core::problem::suggestion(service, known.clone(), || {
                format!(
                    "the services are {}",
                    berth_core::problem::quoted_list(known)
                )
            });
            return Err(Problems::one(
                Problem::new(format!("`--image` names no service `{service}`")).help(help),
            ));
        }
        let spec = ecosystem.services.get_mut(service).expect("checked above");
        std::sync::Arc::make_mut(spec).image = Some(image.to_owned());
    }
    Ok(ecosystem)
}

fn render(
    to: Target,
    project: &Project,
    ecosystem: &Ecosystem,
    dir: Option<&Path>,
) -> Result<Vec<File>, Problems> {
    let all: Vec<&Ecosystem> = project.ecosystems().collect();
    Ok(match to {
        Target::Compose => {
            let back = dir.map_or_else(
                || ".".to_owned(),
                |dir| super::way_back::way_back(dir, project.dir()),
            );
            berth_render::compose::compose_at(ecosystem, &back)
        }
        Target::Kubernetes => berth_render::kubernetes(&env_files::inlined(project, ecosystem)?),
        Target::Kustomize => {
            let on_kubernetes: Vec<Ecosystem> = project
                .ecosystems_on(Runtime::Kubernetes)
                .map(|ecosystem| env_files::inlined(project, ecosystem))
                .collect::<Result<_, _>>()?;
            let on_kubernetes: Vec<&Ecosystem> = on_kubernetes.iter().collect();
            if on_kubernetes.is_empty() {
                return Err(Problems::one(
                    Problem::new(
                        "no environment runs on Kubernetes, so there is nothing to kustomize",
                    )
                    .help("give an environment `runtime: kubernetes` in berth.yaml"),
                ));
            }
            berth_render::kustomize(&on_kubernetes)
        }
        Target::Monitoring => berth_render::monitoring(ecosystem),
        Target::Ci => berth_render::ci(ecosystem, &all),
        Target::All => {
            let mut files = Vec::new();
            let kubernetes = project.ecosystems_on(Runtime::Kubernetes).next().is_some();
            let targets = Target::value_variants().iter().filter(|t| match t {
                Target::All => false,
                // Nothing to kustomize is no reason to write nothing else.
                Target::Kustomize => kubernetes,
                _ => true,
            });
            for target in targets {
                let folder = target.to_possible_value().expect("no target is hidden");
                let dir = dir.map(|dir| dir.join(folder.get_name()));
                files.extend(
                    render(*target, project, ecosystem, dir.as_deref())?
                        .into_iter()
                        .map(|file| File {
                            name: format!("{}/{}", folder.get_name(), file.name),
                            ..file
                        }),
                );
            }
            files
        }
    })
}

/// What writing a tree did.
#[derive(Default)]
struct Written {
    changed: Vec<String>,
    unchanged: usize,
}

/// Every file into `dir`, each replaced whole — a reader never sees half a file —
/// and only where its content changed; folders made once, files written on
/// every core.
fn write(dir: &Path, files: &[File], verbose: bool) -> Result<(), Problems> {
    let cannot = |what: &Path, e: std::io::Error| {
        Problems::one(Problem::new(format!(
            "cannot write {}: {e}",
            what.display()
        )))
    };
    let folders: BTreeSet<PathBuf> = files
        .iter()
        .filter_map(|file| dir.join(&file.name).parent().map(Path::to_path_buf))
        .chain([dir.to_path_buf()])
        .collect();
    for folder in &folders {
        std::fs::create_dir_all(folder).map_err(|e| cannot(folder, e))?;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = files.len().div_ceil(cores).max(1);
    let results: Vec<std::io::Result<Written>> = std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(chunk)
            .map(|files| scope.spawn(move || write_each(dir, files)))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a writer thread does not panic"))
            .collect()
    });
    let mut written = Written::default();
    for result in results {
        let part = result.map_err(|e| cannot(dir, e))?;
        written.changed.extend(part.changed);
        written.unchanged += part.unchanged;
    }
    if verbose {
        for path in &written.changed {
            println!("wrote {path}");
        }
    }
    println!(
        "wrote {} file{} into {}{}",
        written.changed.len(),
        if written.changed.len() == 1 { "" } else { "s" },
        dir.display(),
        match written.unchanged {
            0 => String::new(),
            n => format!("; {n} unchanged"),
        }
    );
    Ok(())
}

fn write_each(dir: &Path, files: &[File]) -> std::io::Result<Written> {
    let mut written = Written::default();
    for file in files {
        let path = dir.join(&file.name);
        let same = std::fs::metadata(&path)
            .is_ok_and(|m| m.is_file() && m.len() == file.text.len() as u64)
            && std::fs::read(&path).is_ok_and(|old| old == file.text.as_bytes());
        if same {
            written.unchanged += 1;
            continue;
        }
        let parent = path.parent().unwrap_or(dir);
        let file_name = path.file_name().unwrap_or_default().to_string_lossy();
        let temporary = parent.join(format!(".{file_name}.tmp"));
        std::fs::write(&temporary, &file.text)?;
        std::fs::rename(&temporary, &path)?;
        written.changed.push(path.display().to_string());
    }
    Ok(written)
}

/// A multi-document YAML stream, each document opening with the file it would be.
fn print(files: &[File]) {
    for (index, file) in files.iter().enumerate() {
        if index > 0 {
            println!("---");
        }
        println!("# {}", file.name);
        print!("{}", file.text);
    }
}

//! `berth render`: the files other tools read, generated from berth.yaml.

use std::path::Path;

use berth_core::model::Runtime;
use berth_core::{Ecosystem, Problem, Problems, Project};
use berth_render::File;
use clap::ValueEnum;

use super::{Exit, ecosystem};
use crate::cli::{Global, Target};

pub fn run(global: &Global, to: Target, dir: Option<&Path>) -> Result<Exit, Problems> {
    if dir.is_none() && matches!(to, Target::Kustomize | Target::All) {
        // A tree of files is not a stream `kubectl apply -f -` could take.
        return Err(Problems::one(
            Problem::new("this target is a tree of files, not one stream")
                .help("give it a directory: `berth render --to kustomize --dir k8s`"),
        ));
    }
    ecosystem(global, |project, ecosystem| {
        let files = render(to, project, ecosystem)?;
        match dir {
            Some(dir) => write(dir, &files)?,
            None => print(&files),
        }
        Ok(Exit::Success)
    })
}

fn render(to: Target, project: &Project, ecosystem: &Ecosystem) -> Result<Vec<File>, Problems> {
    let all: Vec<&Ecosystem> = project.ecosystems().collect();
    Ok(match to {
        Target::Compose => berth_render::compose(ecosystem),
        Target::Kubernetes => berth_render::kubernetes(ecosystem),
        Target::Kustomize => {
            let on_kubernetes: Vec<&Ecosystem> =
                project.ecosystems_on(Runtime::Kubernetes).collect();
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
                files.extend(
                    render(*target, project, ecosystem)?
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

/// Every file into `dir`, each replaced whole: a reader never sees half a file.
fn write(dir: &Path, files: &[File]) -> Result<(), Problems> {
    let cannot = |what: &Path, e: std::io::Error| {
        Problems::one(Problem::new(format!(
            "cannot write {}: {e}",
            what.display()
        )))
    };
    std::fs::create_dir_all(dir).map_err(|e| cannot(dir, e))?;
    for file in files {
        let path = dir.join(&file.name);
        let parent = path.parent().unwrap_or(dir);
        std::fs::create_dir_all(parent).map_err(|e| cannot(parent, e))?;
        let file_name = path.file_name().unwrap_or_default().to_string_lossy();
        let temporary = parent.join(format!(".{file_name}.tmp"));
        std::fs::write(&temporary, &file.text).map_err(|e| cannot(&temporary, e))?;
        std::fs::rename(&temporary, &path).map_err(|e| cannot(&path, e))?;
        println!("wrote {}", path.display());
    }
    Ok(())
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

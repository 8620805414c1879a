//! Images: built through the Engine from a service's build section and tagged by
//! the content they were built from, so that an unchanged service is never built
//! twice; or, without a build section, found on the Engine (pulled if it can be).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use berth_core::model::{Build, Service};
use bollard::query_parameters::{BuildImageOptions, CreateImageOptions};
use bytes::Bytes;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::engine::{Engine, is_missing, said};

/// The images of one project, each made once however many instances ask.
pub struct Images {
    project: PathBuf,
    /// One lock per image reference, so that replicas wait for one build.
    making: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Images {
    pub fn new(project: &Path) -> Images {
        Images {
            project: project.to_path_buf(),
            making: Mutex::default(),
        }
    }

    /// The image `service` runs, built or found; `note` is told what is done.
    pub async fn ensure(
        &self,
        engine: &Engine,
        prefix: &str,
        name: &str,
        service: &Service,
        note: &(dyn Fn(&str) + Sync),
    ) -> Result<String, String> {
        match &service.build {
            Some(build) => {
                let context = self.project.join(&build.context);
                let (files, hash) = {
                    let folder = context.clone();
                    let build = build.clone();
                    tokio::task::spawn_blocking(move || {
                        let files = context_files(&folder)?;
                        let hash = content_hash(&folder, &files, &build)?;
                        Ok::<_, std::io::Error>((files, hash))
                    })
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| {
                        format!("cannot read the build context {}: {e}", context.display())
                    })?
                };
                // Named by what it is built from alone: services that share a context
                // and a target share one image, built once.
                let tag = format!("{prefix}:{hash}");
                let lock = self.lock(&tag);
                let _held = lock.lock().await;
                if engine.inspect_image(&tag).await.is_ok() {
                    return Ok(tag);
                }
                note(&format!("berth: building {tag} from {}", context.display()));
                build_image(engine, &context, &files, build, &tag, service, note).await?;
                Ok(tag)
            }
            None => {
                let image = service.image.clone().ok_or_else(|| {
                    format!(
                        "`{name}` has neither `image:` nor `build:`\n  help: give it one of them"
                    )
                })?;
                let lock = self.lock(&image);
                let _held = lock.lock().await;
                find_or_pull(engine, name, &image, note).await?;
                Ok(image)
            }
        }
    }

    fn lock(&self, reference: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.making
            .lock()
            .expect("images lock")
            .entry(reference.to_owned())
            .or_default()
            .clone()
    }
}

async fn find_or_pull(
    engine: &Engine,
    name: &str,
    image: &str,
    note: &(dyn Fn(&str) + Sync),
) -> Result<(), String> {
    match engine.inspect_image(image).await {
        Ok(_) => return Ok(()),
        Err(e) if !is_missing(&e) => {
            return Err(format!("cannot inspect image {image}: {}", said(&e)));
        }
        Err(_) => {}
    }
    note(&format!("berth: pulling {image}"));
    let options = CreateImageOptions {
        from_image: Some(image.to_owned()),
        ..CreateImageOptions::default()
    };
    let mut pull = engine.create_image(Some(options), None, None);
    while let Some(step) = pull.next().await {
        if let Err(e) = step {
            return Err(format!(
                "image {image} is not on this Docker Engine, and pulling it failed: {}\n  help: build it (`docker build -t {image} .`), load it (`docker load -i FILE`), give `{name}` a `build:` section, or list `{name}` under the environment's `external:`",
                said(&e)
            ));
        }
    }
    Ok(())
}

/// The files of a build context, in a fixed order, as paths relative to it.
/// What `.dockerignore` names is left out, line by line as exact paths or
/// folders (its patterns with wildcards are not read).
fn context_files(context: &Path) -> std::io::Result<Vec<PathBuf>> {
    let ignored: Vec<PathBuf> = std::fs::read_to_string(context.join(".dockerignore"))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#') && !line.contains('*'))
        .map(|line| PathBuf::from(line.trim_start_matches("./").trim_end_matches('/')))
        .collect();
    let mut files = Vec::new();
    let mut folders = vec![PathBuf::new()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(context.join(&folder))? {
            let entry = entry?;
            let relative = folder.join(entry.file_name());
            if ignored.iter().any(|ignored| relative.starts_with(ignored)) {
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_dir() {
                folders.push(relative);
            } else if kind.is_file() || kind.is_symlink() {
                files.push(relative);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// What the image is built from: every file's path, mode and bytes (a link's
/// target, not what it points at), and the build's settings.
fn content_hash(context: &Path, files: &[PathBuf], build: &Build) -> std::io::Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut hash = Sha256::new();
    for file in files {
        let path = context.join(file);
        let metadata = std::fs::symlink_metadata(&path)?;
        hash.update(file.to_string_lossy().as_bytes());
        hash.update(metadata.permissions().mode().to_le_bytes());
        if metadata.is_symlink() {
            hash.update(std::fs::read_link(&path)?.to_string_lossy().as_bytes());
        } else {
            hash.update(metadata.len().to_le_bytes());
            std::io::copy(&mut std::fs::File::open(&path)?, &mut hash)?;
        }
    }
    let settings = format!("{:?}{:?}{:?}", build.dockerfile, build.target, build.args);
    hash.update(settings.as_bytes());
    let digest = hash.finalize();
    Ok(digest[..6].iter().map(|b| format!("{b:02x}")).collect())
}

async fn build_image(
    engine: &Engine,
    context: &Path,
    files: &[PathBuf],
    build: &Build,
    tag: &str,
    service: &Service,
    note: &(dyn Fn(&str) + Sync),
) -> Result<(), String> {
    // Packed as the Engine reads it, so that a large context is never in memory whole.
    let (pieces, body) = tokio::sync::mpsc::channel::<Bytes>(8);
    let packing = {
        let folder = context.to_path_buf();
        let files = files.to_vec();
        tokio::task::spawn_blocking(move || archive(&folder, &files, Pipe(pieces)))
    };
    let body = futures_util::stream::unfold(body, |mut body| async move {
        body.recv().await.map(|piece| (piece, body))
    });
    let options = BuildImageOptions {
        dockerfile: build
            .dockerfile
            .clone()
            .unwrap_or_else(|| "Dockerfile".to_owned()),
        t: Some(tag.to_owned()),
        target: build.target.clone().unwrap_or_default(),
        buildargs: Some(build.args.clone().into_iter().collect()),
        rm: true,
        ..BuildImageOptions::default()
    };
    let mut steps = engine.build_image(options, None, Some(bollard::body_stream(body)));
    let packed = |packing: tokio::task::JoinHandle<std::io::Result<()>>| async move {
        match packing.await {
            Ok(Err(e)) => Err(format!(
                "cannot pack the build context {}: {e}",
                context.display()
            )),
            _ => Ok(()),
        }
    };
    let mut packing = Some(packing);
    while let Some(step) = steps.next().await {
        let info = match step {
            Ok(info) => info,
            Err(e) => {
                if let Some(packing) = packing.take() {
                    packed(packing).await?;
                }
                return Err(format!("building {tag} failed: {}", said(&e)));
            }
        };
        if let Some(detail) = info.error_detail {
            return Err(format!(
                "building {tag} failed: {}",
                detail.message.unwrap_or_default()
            ));
        }
        if let Some(text) = info.stream {
            for line in text.lines().filter(|line| !line.trim().is_empty()) {
                note(&format!("build: {line}"));
            }
        }
    }
    // The name the file gives it too, as `docker compose build` would tag it.
    if let Some(image) = &service.image {
        let (repo, version) = image
            .rsplit_once(':')
            .filter(|(_, v)| !v.contains('/'))
            .unwrap_or((image, "latest"));
        let options = bollard::query_parameters::TagImageOptions {
            repo: Some(repo.to_owned()),
            tag: Some(version.to_owned()),
        };
        engine
            .tag_image(tag, Some(options))
            .await
            .map_err(|e| format!("cannot tag {tag} as {image}: {}", said(&e)))?;
    }
    Ok(())
}

/// The context as a tar archive into `out`: file modes kept, times zeroed, links
/// kept as links (one to `/` must not pack the machine).
fn archive(context: &Path, files: &[PathBuf], out: Pipe) -> std::io::Result<()> {
    let mut builder = tar::Builder::new(std::io::BufWriter::with_capacity(1 << 20, out));
    builder.mode(tar::HeaderMode::Deterministic);
    builder.follow_symlinks(false);
    for file in files {
        builder.append_path_with_name(context.join(file), file)?;
    }
    builder.into_inner()?.flush()
}

/// Bytes written to it go to the Engine as they come.
struct Pipe(tokio::sync::mpsc::Sender<Bytes>);

impl Write for Pipe {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Bytes::copy_from_slice(buffer))
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the Engine stopped reading")
            })?;
        Ok(buffer.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

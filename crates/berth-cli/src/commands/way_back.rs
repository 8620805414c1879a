//! The relative path from one folder to another, for files that name paths
//! of berth.yaml's folder from somewhere else: rendered compose files in their
//! output folder, or a berth.yaml importing a compose project elsewhere.

use std::path::{Component, Path, PathBuf};

/// The relative path that leads from `folder` to `project`, so that files
/// written in `folder` name the project's paths wherever the two are.
pub fn way_back(folder: &Path, project: &Path) -> String {
    let absolute = |path: &Path| {
        let path = std::env::current_dir().unwrap_or_default().join(path);
        let mut clean = PathBuf::new();
        for part in path.components() {
            match part {
                Component::ParentDir => {
                    clean.pop();
                }
                Component::CurDir => {}
                other => clean.push(other),
            }
        }
        clean
    };
    let (folder, project) = (absolute(folder), absolute(project));
    let common = folder
        .components()
        .zip(project.components())
        .take_while(|(a, b)| a == b)
        .count();
    let up = folder.components().count() - common;
    let down: Vec<_> = project.components().skip(common).collect();
    let mut parts: Vec<String> = std::iter::repeat_n("..".to_owned(), up).collect();
    parts.extend(
        down.iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

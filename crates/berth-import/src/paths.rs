//! Relative paths as compose reads them — from the folder of the file that
//! writes them (the project's folder, or an included file's own) — written
//! from berth.yaml's folder instead, wherever the import puts it.

use std::collections::HashMap;

use berth_core::source::SourceFile;

use crate::note::At;

/// The folder of each compose file, seen from berth.yaml's folder.
#[derive(Default)]
pub struct Paths(HashMap<String, String>);

impl Paths {
    pub fn insert(&mut self, file: &SourceFile, folder: &str) {
        self.0.insert(file.name().to_owned(), folder.to_owned());
    }

    pub fn folder_of(&self, file: &SourceFile) -> &str {
        self.0.get(file.name()).map_or(".", String::as_str)
    }

    /// The name to read a file by that `file` names as `path`.
    pub fn beside(&self, file: &SourceFile, path: &str) -> String {
        let folder = file
            .name()
            .rsplit_once('/')
            .map_or(".", |(folder, _)| folder);
        join(folder, path)
    }

    /// The folder, seen from berth.yaml's, of a file that `file` names as `path`.
    pub fn folder_beside(&self, file: &SourceFile, path: &str) -> String {
        let folder = path.rsplit_once('/').map_or(".", |(folder, _)| folder);
        join(self.folder_of(file), folder)
    }

    /// `path`, written at `at`, as berth.yaml names it: `./` kept in front of a
    /// relative path, which is how compose tells a folder from a volume name.
    pub fn rebase(&self, at: &At, path: &str) -> String {
        if path.starts_with(['/', '~']) {
            return path.to_owned();
        }
        let joined = join(self.folder_of(&at.file), path);
        if joined.starts_with('.') {
            joined
        } else {
            format!("./{joined}")
        }
    }
}

/// `base/path`, with `.` and `..` taken out where they can be.
fn join(base: &str, path: &str) -> String {
    if path.starts_with('/') {
        return path.to_owned();
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in base.split('/').chain(path.split('/')) {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (base.starts_with('/'), joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_joined_lexically() {
        assert_eq!(join(".", "./vote"), "vote");
        assert_eq!(join("../shop", "./vote"), "../shop/vote");
        assert_eq!(join("../shop", "../other/x"), "../other/x");
        assert_eq!(join("/srv/shop", "./x/../y"), "/srv/shop/y");
        assert_eq!(join(".", "."), ".");
    }
}

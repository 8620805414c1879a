//! Compose service names as berth names: DNS labels, which Kubernetes requires.

use berth_core::load::to_dns_label;
use indexmap::IndexMap;

/// Compose's name for each service, and berth's.
pub struct Renames(IndexMap<String, String>);

impl Renames {
    pub fn new<'a>(compose_names: impl IntoIterator<Item = &'a String>) -> Renames {
        let mut renames = IndexMap::new();
        for name in compose_names {
            let base = to_dns_label(name).unwrap_or_else(|| "service".to_owned());
            let mut label = base.clone();
            let mut n = 2;
            while renames.values().any(|taken| *taken == label) {
                label = format!("{base}-{n}");
                n += 1;
            }
            renames.insert(name.clone(), label);
        }
        Renames(renames)
    }

    /// berth's name for the compose service `name`, if there is one of that name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(a, b)| (a.as_str(), b.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_dns_labels_without_clashing() {
        let names = [
            "mysql_8".to_owned(),
            "MySQL.8".to_owned(),
            "1web".to_owned(),
        ];
        let renames = Renames::new(&names);
        assert_eq!(renames.get("mysql_8"), Some("mysql-8"));
        assert_eq!(renames.get("MySQL.8"), Some("mysql-8-2"));
        assert_eq!(renames.get("1web"), Some("web"));
    }
}

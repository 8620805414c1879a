//! Names that become Kubernetes object names and DNS names must be DNS labels.

use crate::problem::Problem;
use crate::source::Span;

/// A problem if `name` is not a DNS-1123 label (lowercase letters, digits and `-`,
/// starting with a letter, at most 63 characters).
pub fn dns_label_problem(what: &str, name: &str, span: Span) -> Option<Problem> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        return None;
    }
    let help = if name.len() > 63 {
        "shorten it to 63 characters at most".to_owned()
    } else {
        format!(
            "it becomes a DNS and Kubernetes name: use lowercase letters, digits and `-`, starting with a letter, such as `{}`",
            suggest(name)
        )
    };
    Some(
        Problem::new(format!("{what} `{name}` is not a valid DNS label"))
            .at(span, "not a DNS label")
            .help(help),
    )
}

fn suggest(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            'A'..='Z' => out.push(c.to_ascii_lowercase()),
            _ if !out.ends_with('-') => out.push('-'),
            _ => {}
        }
    }
    let out = out
        .trim_matches('-')
        .trim_start_matches(|c: char| c.is_ascii_digit());
    if out.is_empty() {
        "my-service".to_owned()
    } else {
        out.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels_are_checked_and_fixes_suggested() {
        assert!(dns_label_problem("service name", "session-agent", Span::default()).is_none());
        let problem = dns_label_problem("service name", "Session_Agent", Span::default()).unwrap();
        assert!(problem.help.unwrap().contains("`session-agent`"));
        assert!(dns_label_problem("service name", "9lives", Span::default()).is_some());
        assert!(dns_label_problem("service name", &"a".repeat(64), Span::default()).is_some());
    }
}

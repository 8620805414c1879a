//! What every page shares: the head, the navigation and the message box.

use maud::{DOCTYPE, Markup, html};

use crate::project::Project;

/// The pages in the navigation, with their paths.
const PAGES: [(&str, &str); 6] = [
    ("/", "Ecosystem"),
    ("/logs", "Logs"),
    ("/deployments", "Deployments"),
    ("/dora", "DORA"),
    ("/check", "Check"),
    ("/backups", "Backups"),
];

/// A whole page: `live` pages follow the running berth's events.
pub fn frame(project: &Project, here: &str, title: &str, live: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (project.ecosystem.name) " · berth" }
                link rel="stylesheet" href="/assets/style.css";
                script src="/assets/app.js" defer {}
            }
            body data-live=[live.then_some("")] {
                header {
                    h1 { (project.ecosystem.name) " " span.muted { (project.environment()) } }
                    nav {
                        @for (path, name) in PAGES {
                            a href=(path) class=[(path == here).then_some("here")] { (name) }
                        }
                    }
                    span #berth-state .state {}
                }
                main { (body) }
                div #message {}
            }
        }
    }
}

/// A time in Unix milliseconds, as RFC 3339 to the second.
pub fn time(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_seconds(at).to_string()
}

/// A state's CSS class: `s-` and its first word.
pub fn state_class(state: &str) -> String {
    let word = state.split([' ', ':', '(']).next().unwrap_or(state);
    format!("s-{}", word.replace(' ', "-"))
}

/// A size as people read it: KiB, MiB or GiB.
pub fn bytes(n: u64) -> String {
    match n {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b => format!("{:.1} KiB", b as f64 / 1024.0),
    }
}

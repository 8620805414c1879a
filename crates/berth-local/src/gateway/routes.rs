//! Which service a path goes to.

use berth_core::Ecosystem;

/// A route: a path prefix, the service behind it, and what the prefix becomes.
#[derive(Clone, Debug)]
pub struct Route {
    pub prefix: String,
    pub service: String,
    pub rewrite: Option<String>,
}

/// Every route of the ecosystem, longest prefix first.
#[derive(Clone, Debug)]
pub struct Routes(Vec<Route>);

impl Routes {
    /// The routes of the services that `runs`: those of the plan brought up, so
    /// that a deployment of a few never announces or routes to the others.
    pub fn of(ecosystem: &Ecosystem, runs: impl Fn(&str) -> bool) -> Routes {
        let mut routes: Vec<Route> = ecosystem
            .services
            .iter()
            .filter(|(name, _)| !ecosystem.is_external(name) && runs(name))
            .flat_map(|(name, service)| {
                service.routes.iter().map(move |route| Route {
                    prefix: route.prefix.clone(),
                    service: name.clone(),
                    rewrite: route.rewrite.clone(),
                })
            })
            .collect();
        routes.sort_by_key(|route| std::cmp::Reverse(route.prefix.len()));
        Routes(routes)
    }

    /// Everything to one service: what a service's own listener routes.
    pub fn single(service: &str) -> Routes {
        Routes(vec![Route {
            prefix: "/".to_owned(),
            service: service.to_owned(),
            rewrite: None,
        }])
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `/api → api, / → web`, shortest prefix first.
    pub fn describe(&self) -> String {
        let routes: Vec<String> = self
            .0
            .iter()
            .rev()
            .map(|route| format!("{} → {}", route.prefix, route.service))
            .collect();
        routes.join(", ")
    }

    /// The route for `path`: the longest prefix that matches it at a segment
    /// boundary (`/api` takes `/api` and `/api/x`, not `/apiary`).
    pub fn find(&self, path: &str) -> Option<&Route> {
        self.0.iter().find(|route| {
            let prefix = route.prefix.trim_end_matches('/');
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || prefix.is_empty())
        })
    }
}

impl Route {
    /// The path the service sees: the prefix replaced by `rewrite` when one is set.
    pub fn forward(&self, path_and_query: &str) -> String {
        let Some(rewrite) = &self.rewrite else {
            return path_and_query.to_owned();
        };
        let rest = path_and_query
            .strip_prefix(self.prefix.trim_end_matches('/'))
            .unwrap_or(path_and_query);
        let joined = format!(
            "{}/{}",
            rewrite.trim_end_matches('/'),
            rest.trim_start_matches('/')
        );
        if joined.is_empty() {
            "/".to_owned()
        } else {
            joined
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> Routes {
        let mut routes = vec![
            Route {
                prefix: "/".into(),
                service: "web".into(),
                rewrite: None,
            },
            Route {
                prefix: "/api".into(),
                service: "api".into(),
                rewrite: None,
            },
            Route {
                prefix: "/alchemy".into(),
                service: "distillara".into(),
                rewrite: Some("/".into()),
            },
        ];
        routes.sort_by_key(|route| std::cmp::Reverse(route.prefix.len()));
        Routes(routes)
    }

    #[test]
    fn the_longest_prefix_at_a_segment_boundary_wins() {
        let routes = routes();
        assert_eq!(routes.find("/api/users").unwrap().service, "api");
        assert_eq!(routes.find("/api").unwrap().service, "api");
        assert_eq!(routes.find("/apiary").unwrap().service, "web");
        assert_eq!(routes.find("/").unwrap().service, "web");
    }

    #[test]
    fn rewrites_replace_the_prefix() {
        let routes = routes();
        let alchemy = routes.find("/alchemy/potions?x=1").unwrap();
        assert_eq!(alchemy.forward("/alchemy/potions?x=1"), "/potions?x=1");
        assert_eq!(alchemy.forward("/alchemy"), "/");
        let api = routes.find("/api/users").unwrap();
        assert_eq!(api.forward("/api/users"), "/api/users");
    }
}

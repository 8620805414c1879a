//! The dependency graph of an ecosystem, and the one traversal that orders it both
//! ways: dependencies before dependents (start) and dependents before dependencies (stop).

use indexmap::{IndexMap, IndexSet};
use petgraph::Direction as Edge;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::model::{Condition, Ecosystem};

/// Which way a traversal walks the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Dependencies first: the order to start services in.
    Up,
    /// Dependents first: the order to stop them in.
    Down,
}

impl Direction {
    /// The edges whose far ends must come before a node.
    fn before(self) -> Edge {
        match self {
            Direction::Up => Edge::Outgoing,
            Direction::Down => Edge::Incoming,
        }
    }
}

/// Services as nodes; an edge runs from a dependent to each of its dependencies.
pub struct DependencyGraph<'a> {
    graph: DiGraph<&'a str, &'a Condition>,
    index: IndexMap<&'a str, NodeIndex>,
}

impl<'a> DependencyGraph<'a> {
    /// The graph of every service; dependencies on unknown services are left out
    /// (validation reports them).
    pub fn new(ecosystem: &'a Ecosystem) -> Self {
        let mut graph = DiGraph::new();
        let index: IndexMap<&str, NodeIndex> = ecosystem
            .services
            .keys()
            .map(|name| (name.as_str(), graph.add_node(name.as_str())))
            .collect();
        for (name, service) in &ecosystem.services {
            for (dependency, condition) in service.depends_on.iter() {
                if let Some(&to) = index.get(dependency.as_str()) {
                    graph.add_edge(index[name.as_str()], to, condition);
                }
            }
        }
        DependencyGraph { graph, index }
    }

    pub fn names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.index.keys().copied()
    }

    /// What `service` depends on, with the condition of each.
    pub fn dependencies(&self, service: &str) -> Vec<(&'a str, &'a Condition)> {
        let mut edges: Vec<_> = self
            .graph
            .edges_directed(self.index[service], Edge::Outgoing)
            .map(|e| {
                (
                    self.graph[petgraph::visit::EdgeRef::target(&e)],
                    *e.weight(),
                )
            })
            .collect();
        edges.sort_by_key(|(name, _)| self.index.get_index_of(name));
        edges
    }

    /// Every dependency cycle, each as a path that returns to its start:
    /// `[a, b, c, a]`. Empty for a valid ecosystem.
    pub fn cycles(&self) -> Vec<Vec<&'a str>> {
        let mut cycles: Vec<Vec<&str>> = petgraph::algo::tarjan_scc(&self.graph)
            .into_iter()
            .filter(|scc| scc.len() > 1 || self.graph.contains_edge(scc[0], scc[0]))
            .map(|scc| self.cycle_within(&scc))
            .collect();
        cycles.sort_by_key(|cycle| self.index.get_index_of(cycle[0]));
        cycles
    }

    /// A path from the first-declared member of a strongly connected component back to itself.
    fn cycle_within(&self, scc: &[NodeIndex]) -> Vec<&'a str> {
        let start = *scc.iter().min_by_key(|n| n.index()).expect("non-empty");
        let members: IndexSet<NodeIndex> = scc.iter().copied().collect();
        let mut path = vec![start];
        let mut seen = IndexSet::new();
        self.walk_back_to(start, start, &members, &mut path, &mut seen);
        path.into_iter().map(|n| self.graph[n]).collect()
    }

    fn walk_back_to(
        &self,
        at: NodeIndex,
        goal: NodeIndex,
        members: &IndexSet<NodeIndex>,
        path: &mut Vec<NodeIndex>,
        seen: &mut IndexSet<NodeIndex>,
    ) -> bool {
        let mut next: Vec<NodeIndex> = self.graph.neighbors_directed(at, Edge::Outgoing).collect();
        next.sort();
        for n in next {
            if n == goal {
                path.push(n);
                return true;
            }
            if members.contains(&n) && seen.insert(n) {
                path.push(n);
                if self.walk_back_to(n, goal, members, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }

    /// `roots` and everything they depend on, directly or not, in declaration order.
    pub fn closure<'s>(&self, roots: impl IntoIterator<Item = &'s str>) -> IndexSet<&'a str> {
        let mut found = IndexSet::new();
        let mut stack: Vec<NodeIndex> = roots
            .into_iter()
            .filter_map(|r| self.index.get(r).copied())
            .collect();
        while let Some(node) = stack.pop() {
            if found.insert(node) {
                stack.extend(self.graph.neighbors_directed(node, Edge::Outgoing));
            }
        }
        let mut names: Vec<&str> = found.into_iter().map(|n| self.graph[n]).collect();
        names.sort_by_key(|name| self.index.get_index_of(name));
        names.into_iter().collect()
    }

    /// Groups `members` into waves: a member goes into the wave after the last wave
    /// holding something it must follow (in `direction`); members with nothing to
    /// follow go first. Each wave can run in parallel, and each is as early as it can be.
    /// Edges to nodes outside `members` are taken as already satisfied.
    pub fn waves(&self, members: &IndexSet<&str>, direction: Direction) -> Vec<Vec<&'a str>> {
        let mut wave_of: IndexMap<NodeIndex, usize> = IndexMap::new();
        let nodes: Vec<NodeIndex> = members
            .iter()
            .filter_map(|m| self.index.get(m).copied())
            .collect();
        let order = self.topological(&nodes, direction);
        let mut waves: Vec<Vec<&str>> = Vec::new();
        for node in order {
            let wave = self
                .graph
                .neighbors_directed(node, direction.before())
                .filter_map(|n| wave_of.get(&n))
                .map(|w| w + 1)
                .max()
                .unwrap_or(0);
            wave_of.insert(node, wave);
            if waves.len() <= wave {
                waves.resize(wave + 1, Vec::new());
            }
            waves[wave].push(self.graph[node]);
        }
        for wave in &mut waves {
            wave.sort_by_key(|name| self.index.get_index_of(name));
        }
        waves
    }

    /// `nodes` ordered so that each comes after what it must follow in `direction`.
    /// Members of a cycle are left out (validation reports cycles before anything plans).
    fn topological(&self, nodes: &[NodeIndex], direction: Direction) -> Vec<NodeIndex> {
        let members: IndexSet<NodeIndex> = nodes.iter().copied().collect();
        let mut waiting: IndexMap<NodeIndex, usize> = members
            .iter()
            .map(|&n| {
                let count = self
                    .graph
                    .neighbors_directed(n, direction.before())
                    .filter(|m| members.contains(m))
                    .count();
                (n, count)
            })
            .collect();
        let mut ready: Vec<NodeIndex> = waiting
            .iter()
            .filter(|(_, c)| **c == 0)
            .map(|(n, _)| *n)
            .collect();
        let mut order = Vec::with_capacity(members.len());
        while let Some(node) = ready.pop() {
            order.push(node);
            let after = match direction.before() {
                Edge::Outgoing => Edge::Incoming,
                Edge::Incoming => Edge::Outgoing,
            };
            for next in self.graph.neighbors_directed(node, after) {
                if let Some(count) = waiting.get_mut(&next) {
                    *count -= 1;
                    if *count == 0 {
                        ready.push(next);
                    }
                }
            }
        }
        order
    }

    /// The longest chain of dependencies among `members`, from the first service to
    /// start to the last: what bounds how fast the whole set can come up.
    pub fn critical_chain(&self, members: &IndexSet<&str>) -> Vec<&'a str> {
        let nodes: Vec<NodeIndex> = members
            .iter()
            .filter_map(|m| self.index.get(m).copied())
            .collect();
        let mut longest: IndexMap<NodeIndex, (usize, Option<NodeIndex>)> = IndexMap::new();
        for node in self.topological(&nodes, Direction::Up) {
            let best = self
                .graph
                .neighbors_directed(node, Edge::Outgoing)
                .filter_map(|dep| longest.get(&dep).map(|(len, _)| (*len, dep)))
                .max_by_key(|(len, dep)| (*len, std::cmp::Reverse(dep.index())));
            let entry = match best {
                Some((len, dep)) => (len + 1, Some(dep)),
                None => (1, None),
            };
            longest.insert(node, entry);
        }
        let Some((&end, _)) = longest
            .iter()
            .max_by_key(|(node, (len, _))| (*len, std::cmp::Reverse(node.index())))
        else {
            return Vec::new();
        };
        let mut chain = vec![self.graph[end]];
        let mut at = end;
        while let Some(previous) = longest[&at].1 {
            chain.push(self.graph[previous]);
            at = previous;
        }
        chain.reverse();
        chain
    }
}

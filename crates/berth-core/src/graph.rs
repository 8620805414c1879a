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
        let mut edges: Vec<(NodeIndex, &Condition)> = self
            .graph
            .edges_directed(self.index[service], Edge::Outgoing)
            .map(|e| (petgraph::visit::EdgeRef::target(&e), *e.weight()))
            .collect();
        // Node indices follow declaration order.
        edges.sort_by_key(|(node, _)| *node);
        edges
            .into_iter()
            .map(|(node, condition)| (self.graph[node], condition))
            .collect()
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
        let mut found = vec![false; self.graph.node_count()];
        let mut stack: Vec<NodeIndex> = roots
            .into_iter()
            .filter_map(|r| self.index.get(r).copied())
            .collect();
        while let Some(node) = stack.pop() {
            if !std::mem::replace(&mut found[node.index()], true) {
                stack.extend(self.graph.neighbors_directed(node, Edge::Outgoing));
            }
        }
        self.graph
            .node_indices()
            .filter(|n| found[n.index()])
            .map(|n| self.graph[n])
            .collect()
    }

    /// Groups `members` into waves: a member goes into the wave after the last wave
    /// holding something it must follow (in `direction`); members with nothing to
    /// follow go first. Each wave can run in parallel, and each is as early as it can be.
    /// Edges to nodes outside `members` are taken as already satisfied.
    pub fn waves(&self, members: &IndexSet<&str>, direction: Direction) -> Vec<Vec<&'a str>> {
        let nodes = self.nodes_of(members);
        let mut wave_of: Vec<Option<usize>> = vec![None; self.graph.node_count()];
        let mut waves: Vec<Vec<NodeIndex>> = Vec::new();
        for node in self.topological(&nodes, direction) {
            let wave = self
                .graph
                .neighbors_directed(node, direction.before())
                .filter_map(|n| wave_of[n.index()])
                .map(|w| w + 1)
                .max()
                .unwrap_or(0);
            wave_of[node.index()] = Some(wave);
            if waves.len() <= wave {
                waves.resize(wave + 1, Vec::new());
            }
            waves[wave].push(node);
        }
        waves
            .into_iter()
            .map(|mut wave| {
                wave.sort();
                wave.into_iter().map(|n| self.graph[n]).collect()
            })
            .collect()
    }

    fn nodes_of(&self, members: &IndexSet<&str>) -> Vec<NodeIndex> {
        members
            .iter()
            .filter_map(|m| self.index.get(m).copied())
            .collect()
    }

    /// `nodes` ordered so that each comes after what it must follow in `direction`.
    /// Members of a cycle are left out (validation reports cycles before anything plans).
    fn topological(&self, nodes: &[NodeIndex], direction: Direction) -> Vec<NodeIndex> {
        let mut member = vec![false; self.graph.node_count()];
        for node in nodes {
            member[node.index()] = true;
        }
        let mut waiting = vec![0usize; self.graph.node_count()];
        for &node in nodes {
            waiting[node.index()] = self
                .graph
                .neighbors_directed(node, direction.before())
                .filter(|m| member[m.index()])
                .count();
        }
        let mut ready: Vec<NodeIndex> = nodes
            .iter()
            .copied()
            .filter(|n| waiting[n.index()] == 0)
            .collect();
        let after = direction.before().opposite();
        let mut order = Vec::with_capacity(nodes.len());
        while let Some(node) = ready.pop() {
            order.push(node);
            for next in self.graph.neighbors_directed(node, after) {
                if member[next.index()] {
                    waiting[next.index()] -= 1;
                    if waiting[next.index()] == 0 {
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
        let nodes = self.nodes_of(members);
        // For each node: the length of the longest chain ending at it, and the
        // dependency that chain comes through.
        let mut longest: Vec<Option<(usize, Option<NodeIndex>)>> =
            vec![None; self.graph.node_count()];
        for node in self.topological(&nodes, Direction::Up) {
            let best = self
                .graph
                .neighbors_directed(node, Edge::Outgoing)
                .filter_map(|dep| longest[dep.index()].map(|(len, _)| (len, dep)))
                .max_by_key(|(len, dep)| (*len, std::cmp::Reverse(*dep)));
            longest[node.index()] = Some(match best {
                Some((len, dep)) => (len + 1, Some(dep)),
                None => (1, None),
            });
        }
        let Some(end) = longest
            .iter()
            .enumerate()
            .filter_map(|(i, entry)| entry.map(|(len, _)| (len, NodeIndex::new(i))))
            .max_by_key(|(len, node)| (*len, std::cmp::Reverse(*node)))
            .map(|(_, node)| node)
        else {
            return Vec::new();
        };
        let mut chain = vec![self.graph[end]];
        let mut at = end;
        while let Some(previous) = longest[at.index()].and_then(|(_, previous)| previous) {
            chain.push(self.graph[previous]);
            at = previous;
        }
        chain.reverse();
        chain
    }
}

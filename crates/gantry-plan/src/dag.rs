//! The job graph: a true DAG built from each job's own `needs` (a job waits only for the jobs it
//! names, never for a whole "stage").

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use indexmap::IndexMap;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use thiserror::Error;

/// A problem in the jobs' `needs`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DagError {
    #[error("job '{job}' depends on unknown job '{need}'")]
    UnknownNeed { job: String, need: String },
    #[error("job '{0}' is defined more than once")]
    DuplicateJob(String),
    /// The whole cycle, starting and ending with the same job: `a -> b -> c -> a`.
    #[error("jobs depend on each other in a cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
}

/// A job asked for by name (`-j JOB`) that the workflow does not define.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("job '{0}' does not exist in the workflow")]
pub struct UnknownJob(pub String);

/// Jobs and their dependencies. Node indexes follow the jobs' source order, and every ordering
/// this type returns breaks ties by source order, so plans are deterministic.
#[derive(Debug, Clone)]
pub struct JobGraph {
    ids: Vec<String>,
    /// Edges point from a need to the job that needs it.
    graph: DiGraph<(), ()>,
    order: Vec<usize>,
}

impl JobGraph {
    /// Builds the graph from `(job id, needs)` in source order and reports every problem.
    pub fn build<J, N, S>(jobs: J) -> Result<JobGraph, Vec<DagError>>
    where
        J: IntoIterator<Item = (S, N)>,
        N: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut errors = Vec::new();
        let mut index: IndexMap<String, Vec<String>> = IndexMap::new();
        for (id, needs) in jobs {
            let needs = needs.into_iter().map(|n| n.as_ref().to_owned()).collect();
            if index.insert(id.as_ref().to_owned(), needs).is_some() {
                errors.push(DagError::DuplicateJob(id.as_ref().to_owned()));
            }
        }
        let mut graph = DiGraph::new();
        for _ in 0..index.len() {
            graph.add_node(());
        }
        for (job_index, (job, needs)) in index.iter().enumerate() {
            for need in needs {
                match index.get_index_of(need) {
                    Some(n) => {
                        graph.update_edge(NodeIndex::new(n), NodeIndex::new(job_index), ());
                    }
                    None => errors.push(DagError::UnknownNeed {
                        job: job.clone(),
                        need: need.clone(),
                    }),
                }
            }
        }
        let ids: Vec<String> = index.into_keys().collect();
        errors.extend(cycles(&graph, &ids).into_iter().map(DagError::Cycle));
        if !errors.is_empty() {
            return Err(errors);
        }
        let order = topological_order(&graph);
        Ok(JobGraph { ids, graph, order })
    }

    /// Job ids in source order.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    pub fn contains(&self, id: &str) -> bool {
        self.position(id).is_some()
    }

    /// Every job after all of its needs; ties in source order.
    pub fn topological_order(&self) -> Vec<&str> {
        self.order.iter().map(|&i| self.ids[i].as_str()).collect()
    }

    /// The jobs `id` names in `needs` (direct dependencies), in source order.
    pub fn needs(&self, id: &str) -> Vec<&str> {
        self.neighbors(id, petgraph::Direction::Incoming)
    }

    /// The jobs that name `id` in their `needs`, in source order.
    pub fn dependents(&self, id: &str) -> Vec<&str> {
        self.neighbors(id, petgraph::Direction::Outgoing)
    }

    /// The selected jobs and everything they need, transitively, in topological order. This is
    /// what `-j JOB` runs.
    pub fn closure<S: AsRef<str>>(&self, selected: &[S]) -> Result<Vec<&str>, UnknownJob> {
        let mut keep = vec![false; self.ids.len()];
        let mut stack = Vec::new();
        for id in selected {
            let id = id.as_ref();
            stack.push(self.position(id).ok_or_else(|| UnknownJob(id.to_owned()))?);
        }
        while let Some(i) = stack.pop() {
            if !std::mem::replace(&mut keep[i], true) {
                stack.extend(
                    self.graph
                        .neighbors_directed(NodeIndex::new(i), petgraph::Direction::Incoming)
                        .map(|n| n.index()),
                );
            }
        }
        Ok(self
            .order
            .iter()
            .filter(|&&i| keep[i])
            .map(|&i| self.ids[i].as_str())
            .collect())
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.ids.iter().position(|j| j == id)
    }

    fn neighbors(&self, id: &str, direction: petgraph::Direction) -> Vec<&str> {
        let Some(i) = self.position(id) else {
            return Vec::new();
        };
        let set: BTreeSet<usize> = self
            .graph
            .neighbors_directed(NodeIndex::new(i), direction)
            .map(|n| n.index())
            .collect();
        set.into_iter().map(|n| self.ids[n].as_str()).collect()
    }
}

/// Kahn's algorithm with a min-heap on source position.
fn topological_order(graph: &DiGraph<(), ()>) -> Vec<usize> {
    let mut indegree: Vec<usize> = graph
        .node_indices()
        .map(|n| {
            graph
                .neighbors_directed(n, petgraph::Direction::Incoming)
                .count()
        })
        .collect();
    let mut ready: BinaryHeap<Reverse<usize>> = indegree
        .iter()
        .enumerate()
        .filter(|(_, d)| **d == 0)
        .map(|(i, _)| Reverse(i))
        .collect();
    let mut order = Vec::with_capacity(indegree.len());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for next in graph.neighbors_directed(NodeIndex::new(i), petgraph::Direction::Outgoing) {
            indegree[next.index()] -= 1;
            if indegree[next.index()] == 0 {
                ready.push(Reverse(next.index()));
            }
        }
    }
    order
}

/// One cycle per strongly connected component that has one, written in `needs` order
/// (`a -> b` means `a` needs `b`), starting at the component's first job in source order.
fn cycles(graph: &DiGraph<(), ()>, ids: &[String]) -> Vec<Vec<String>> {
    let mut found: Vec<Vec<usize>> = tarjan_scc(graph)
        .into_iter()
        .filter(|scc| scc.len() > 1 || graph.contains_edge(scc[0], scc[0]))
        .filter_map(|scc| cycle_in(graph, &scc.iter().map(|n| n.index()).collect()))
        .collect();
    found.sort_by_key(|c| c[0]);
    found
        .into_iter()
        .map(|c| c.into_iter().map(|i| ids[i].clone()).collect())
        .collect()
}

/// A simple cycle through the component's smallest node, following "needs" edges (incoming
/// edges of the graph) and always trying needs in source order.
fn cycle_in(graph: &DiGraph<(), ()>, component: &BTreeSet<usize>) -> Option<Vec<usize>> {
    let start = *component.first()?;
    let mut path = vec![start];
    let mut visited = BTreeSet::from([start]);
    walk(graph, component, start, &mut path, &mut visited).then(|| {
        path.push(start);
        path
    })
}

fn walk(
    graph: &DiGraph<(), ()>,
    component: &BTreeSet<usize>,
    start: usize,
    path: &mut Vec<usize>,
    visited: &mut BTreeSet<usize>,
) -> bool {
    let Some(&current) = path.last() else {
        return false;
    };
    let needs: BTreeSet<usize> = graph
        .neighbors_directed(NodeIndex::new(current), petgraph::Direction::Incoming)
        .map(|n| n.index())
        .filter(|n| component.contains(n))
        .collect();
    if needs.contains(&start) {
        return true;
    }
    for need in needs {
        if visited.insert(need) {
            path.push(need);
            if walk(graph, component, start, path, visited) {
                return true;
            }
            path.pop();
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(jobs: &[(&str, &[&str])]) -> Result<JobGraph, Vec<DagError>> {
        JobGraph::build(jobs.iter().map(|(id, needs)| (*id, needs.iter().copied())))
    }

    #[test]
    fn three_cycle_is_reported_whole() {
        let errors = graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &[])]).unwrap_err();
        assert_eq!(
            errors,
            vec![DagError::Cycle(vec![
                "a".into(),
                "b".into(),
                "c".into(),
                "a".into()
            ])]
        );
        assert_eq!(
            errors[0].to_string(),
            "jobs depend on each other in a cycle: a -> b -> c -> a"
        );
    }

    #[test]
    fn self_need_is_a_cycle() {
        let errors = graph(&[("a", &["a"])]).unwrap_err();
        assert_eq!(errors, vec![DagError::Cycle(vec!["a".into(), "a".into()])]);
    }
}

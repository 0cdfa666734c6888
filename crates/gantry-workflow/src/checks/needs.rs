//! `needs`: unknown jobs, cycles and duplicates.
//!
//! GitHub's own errors come from a topological walk: jobs whose needs never become satisfied get
//! one error per unsatisfied need, worded as a cycle when the needed job exists. We reproduce
//! that walk for GitHub's messages and add one diagnostic per actual cycle, spelled out in full.

use std::collections::{HashMap, HashSet, VecDeque};

use super::Sink;
use crate::model::{Job, Spanned, Workflow};

pub(super) fn check(workflow: &Workflow, sink: &mut Sink) {
    let jobs: Vec<&Job> = workflow.jobs.values().collect();
    check_duplicates(&jobs, sink);
    github_walk(&jobs, sink);
    report_cycles(&jobs, sink);
}

fn check_duplicates(jobs: &[&Job], sink: &mut Sink) {
    for job in jobs {
        let mut seen = HashSet::new();
        for need in &job.needs {
            if !seen.insert(need.value.to_ascii_lowercase()) {
                let message = format!(
                    "Job '{}' lists job '{}' in 'needs' more than once.",
                    job.id.value, need.value
                );
                sink.warning(need.span, "needs", message);
            }
        }
    }
}

/// GitHub's walk: start from jobs without needs, satisfy needs as jobs "complete".
fn github_walk(jobs: &[&Job], sink: &mut Sink) {
    let Some(first) = jobs.first() else { return };
    let mut ready: VecDeque<&str> = jobs
        .iter()
        .filter(|j| j.needs.is_empty())
        .map(|j| j.id.value.as_str())
        .collect();
    let known: HashSet<&str> = jobs.iter().map(|j| j.id.value.as_str()).collect();
    if ready.is_empty() {
        // GitHub points at the `jobs` mapping, whose position is its first key, and stops
        // there; we still name unknown jobs, which GitHub would report once this is fixed.
        let message = "The workflow must contain at least one job with no dependencies.";
        sink.error(first.id.span, "needs-cycle", message);
        report_unknown(jobs, &known, sink);
        return;
    }
    let mut waiting: Vec<(&Job, Vec<&Spanned<String>>)> = jobs
        .iter()
        .filter(|j| !j.needs.is_empty())
        .map(|j| (*j, j.needs.iter().collect()))
        .collect();
    while let Some(done) = ready.pop_front() {
        waiting.retain_mut(|(job, needs)| {
            needs.retain(|n| n.value != done);
            if needs.is_empty() {
                ready.push_back(job.id.value.as_str());
            }
            !needs.is_empty()
        });
    }
    for (job, needs) in waiting {
        for need in needs {
            sink.error(
                need.span,
                rule_for(&known, need),
                unsatisfied_message(&known, job, need),
            );
        }
    }
}

fn report_unknown(jobs: &[&Job], known: &HashSet<&str>, sink: &mut Sink) {
    for job in jobs {
        for need in job
            .needs
            .iter()
            .filter(|n| !known.contains(n.value.as_str()))
        {
            sink.error(need.span, "needs", unsatisfied_message(known, job, need));
        }
    }
}

fn rule_for(known: &HashSet<&str>, need: &Spanned<String>) -> &'static str {
    if known.contains(need.value.as_str()) {
        "needs-cycle"
    } else {
        "needs"
    }
}

fn unsatisfied_message(known: &HashSet<&str>, job: &Job, need: &Spanned<String>) -> String {
    let (id, needed) = (&job.id.value, &need.value);
    if known.contains(needed.as_str()) {
        format!(
            "Job '{id}' depends on job '{needed}' which creates a cycle in the dependency graph."
        )
    } else {
        format!("Job '{id}' depends on unknown job '{needed}'.")
    }
}

/// One diagnostic per cycle, at the first job of the cycle in source order.
fn report_cycles(jobs: &[&Job], sink: &mut Sink) {
    let index: HashMap<&str, usize> = jobs
        .iter()
        .enumerate()
        .map(|(i, j)| (j.id.value.as_str(), i))
        .collect();
    let edges: Vec<Vec<usize>> = jobs
        .iter()
        .map(|j| {
            j.needs
                .iter()
                .filter_map(|n| index.get(n.value.as_str()).copied())
                .collect()
        })
        .collect();
    let mut on_reported_cycle = vec![false; jobs.len()];
    for start in 0..jobs.len() {
        if on_reported_cycle[start] {
            continue;
        }
        let Some(cycle) = shortest_cycle(&edges, start) else {
            continue;
        };
        for &node in &cycle {
            on_reported_cycle[node] = true;
        }
        let names: Vec<&str> = cycle
            .iter()
            .chain([&start])
            .map(|&i| jobs[i].id.value.as_str())
            .collect();
        let message = format!("The jobs form a dependency cycle: {}", names.join(" -> "));
        sink.error(jobs[start].id.span, "needs-cycle", message);
    }
}

/// Breadth-first search from `start` back to itself; the path starts with `start`.
fn shortest_cycle(edges: &[Vec<usize>], start: usize) -> Option<Vec<usize>> {
    let mut parent: Vec<Option<usize>> = vec![None; edges.len()];
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &next in &edges[node] {
            if next == start {
                return Some(path_to(&parent, start, node));
            }
            if parent[next].is_none() {
                parent[next] = Some(node);
                queue.push_back(next);
            }
        }
    }
    None
}

fn path_to(parent: &[Option<usize>], start: usize, last: usize) -> Vec<usize> {
    let mut path = vec![last];
    let mut node = last;
    while node != start {
        let Some(p) = parent[node] else { break };
        path.push(p);
        node = p;
    }
    path.reverse();
    path
}

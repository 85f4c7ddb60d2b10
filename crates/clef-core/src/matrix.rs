//! The namespace × environment grid of one report. Never stored: always drawn from a report.

use crate::{Cell, Drift, Report};
use serde::Serialize;
use std::collections::HashMap;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Matrix {
    pub namespaces: Vec<String>,
    pub environments: Vec<String>,
    pub rows: Vec<MatrixRow>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MatrixRow {
    pub namespace: String,
    pub drift: Option<Drift>,
    /// One slot per environment, in `environments` order; `None` where no cell was reported.
    pub cells: Vec<Option<Cell>>,
}

fn push_unique(list: &mut Vec<String>, item: &str) {
    // Reports hold at most a few hundred names (validation caps them).
    if !list.iter().any(|x| x == item) {
        list.push(item.to_owned());
    }
}

impl Matrix {
    /// Axes are the report's declared namespaces and environments, in its order, plus any
    /// that only a cell or a drift entry names.
    pub fn of(report: &Report) -> Self {
        let mut namespaces = report.summary.namespaces.clone();
        let mut environments = report.summary.environments.clone();
        for c in &report.summary.cells {
            push_unique(&mut namespaces, &c.namespace);
            push_unique(&mut environments, &c.environment);
        }
        for d in &report.drift {
            push_unique(&mut namespaces, &d.namespace);
        }
        // Work in proportion to the cells, not to namespaces × environments × cells.
        let cells: HashMap<(&str, &str), &Cell> = report
            .summary
            .cells
            .iter()
            .map(|c| ((c.namespace.as_str(), c.environment.as_str()), c))
            .collect();
        let mut drift: HashMap<&str, &Drift> = HashMap::new();
        for d in &report.drift {
            drift.entry(d.namespace.as_str()).or_insert(d);
        }
        let rows = namespaces
            .iter()
            .map(|ns| MatrixRow {
                namespace: ns.clone(),
                drift: drift.get(ns.as_str()).map(|d| (*d).clone()),
                cells: environments
                    .iter()
                    .map(|env| cells.get(&(ns.as_str(), env.as_str())).map(|c| (*c).clone()))
                    .collect(),
            })
            .collect();
        Self { namespaces, environments, rows }
    }
}

//! The namespace × environment grid of one report. Never stored: always drawn from a report.

use crate::{Cell, Drift, Report};
use serde::Serialize;

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
        let rows = namespaces
            .iter()
            .map(|ns| MatrixRow {
                namespace: ns.clone(),
                drift: report.drift.iter().find(|d| &d.namespace == ns).cloned(),
                cells: environments
                    .iter()
                    .map(|env| {
                        report
                            .summary
                            .cells
                            .iter()
                            .find(|c| &c.namespace == ns && &c.environment == env)
                            .cloned()
                    })
                    .collect(),
            })
            .collect();
        Self { namespaces, environments, rows }
    }
}

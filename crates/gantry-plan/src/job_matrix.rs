//! A job's `strategy.matrix` from the workflow model: its expressions evaluated with whatever
//! contexts are known, then expanded with [`crate::matrix::expand`].
//!
//! The planner calls [`job_matrix_with`] with the contexts known when the run starts (`github`,
//! `inputs`, `vars`); a matrix that reads `needs` stays [`MatrixPlan::Deferred`] and the runner
//! calls the same function again, with `needs`, once those jobs finished.

use std::collections::BTreeSet;

use gantry_expr::{EvalContext, ExprError, ParseOptions, TemplateError, parse_template};
use gantry_workflow::{Job, Matrix};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::matrix::{MatrixError, MatrixRow, expand};
use crate::template_value::{TemplateValueError, ValueShapeError, expressions, yaml_to_json};

/// The contexts GitHub allows in `strategy` (from its workflow schema).
pub const MATRIX_CONTEXTS: [&str; 4] = ["github", "inputs", "vars", "needs"];

/// A job's matrix as far as the caller's contexts allow.
#[derive(Debug, Clone, PartialEq)]
pub enum MatrixPlan {
    /// No `strategy.matrix`: one run.
    None,
    /// Expanded.
    Rows(Vec<MatrixRow>),
    /// Reads a context that is not known yet. `needs_outputs` tells whether it reads `needs`
    /// (so it can only be expanded once those jobs finished).
    Deferred { needs_outputs: bool },
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum JobMatrixError {
    #[error(transparent)]
    Matrix(#[from] MatrixError),
    #[error(transparent)]
    Shape(#[from] ValueShapeError),
    #[error("matrix expression '{expression}': {error}")]
    Expression {
        expression: String,
        error: ExprError,
    },
}

impl From<TemplateValueError<JobMatrixError>> for JobMatrixError {
    fn from(error: TemplateValueError<JobMatrixError>) -> Self {
        match error {
            TemplateValueError::Eval(error) => error,
            TemplateValueError::Shape(shape) => shape.into(),
        }
    }
}

/// Known contexts, as JSON; `None` means unknown (a matrix reading it is deferred).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatrixContexts {
    pub github: Option<Value>,
    pub inputs: Option<Value>,
    pub vars: Option<Value>,
    pub needs: Option<Value>,
}

impl MatrixContexts {
    fn get(&self, name: &str) -> Option<&Value> {
        match name.to_ascii_lowercase().as_str() {
            "github" => self.github.as_ref(),
            "inputs" => self.inputs.as_ref(),
            "vars" => self.vars.as_ref(),
            "needs" => self.needs.as_ref(),
            _ => None,
        }
    }
}

impl EvalContext for MatrixContexts {
    fn named_value(&self, name: &str) -> Option<gantry_expr::Value> {
        self.get(name).map(gantry_expr::Value::from)
    }
}

/// The job's matrix with no context known: literal matrices expand, any expression defers.
pub fn job_matrix(job: &Job) -> Result<MatrixPlan, JobMatrixError> {
    job_matrix_with(job, &MatrixContexts::default())
}

/// The job's matrix, evaluating its expressions when every context they read is known.
pub fn job_matrix_with(job: &Job, contexts: &MatrixContexts) -> Result<MatrixPlan, JobMatrixError> {
    let Some(matrix) = job.strategy.as_ref().and_then(|s| s.value.matrix.as_ref()) else {
        return Ok(MatrixPlan::None);
    };
    let reads = contexts_read(&matrix.value)?;
    if reads.iter().any(|name| contexts.get(name).is_none()) {
        return Ok(MatrixPlan::Deferred {
            needs_outputs: reads.contains("needs"),
        });
    }
    let rows = resolve_matrix(&matrix.value, &mut |text| evaluate(text, contexts))?;
    Ok(MatrixPlan::Rows(rows))
}

/// Evaluates every expression in a matrix with `evaluate` (given the source text, `${{ }}`
/// included) and expands the result.
pub fn resolve_matrix<F>(
    matrix: &Matrix,
    evaluate: &mut F,
) -> Result<Vec<MatrixRow>, JobMatrixError>
where
    F: FnMut(&str) -> Result<Value, JobMatrixError>,
{
    let value = match matrix {
        Matrix::Expr(text) => evaluate(text)?,
        Matrix::Map {
            dimensions,
            include,
            exclude,
        } => {
            let mut map = Map::new();
            for (key, value) in dimensions {
                map.insert(key.value.clone(), yaml_to_json(&value.value, evaluate)?);
            }
            for (key, list) in [("include", include), ("exclude", exclude)] {
                if let Some(list) = list {
                    map.insert(key.to_owned(), yaml_to_json(&list.value, evaluate)?);
                }
            }
            Value::Object(map)
        }
    };
    Ok(expand(&value)?)
}

fn options() -> ParseOptions {
    MATRIX_CONTEXTS
        .iter()
        .fold(ParseOptions::new(), |options, name| {
            options.named_value(name)
        })
}

fn parse(text: &str) -> Result<gantry_expr::Template, JobMatrixError> {
    parse_template(text, &options()).map_err(|error: TemplateError| JobMatrixError::Expression {
        expression: text.to_owned(),
        error: error.into(),
    })
}

fn evaluate(text: &str, contexts: &MatrixContexts) -> Result<Value, JobMatrixError> {
    let template = parse(text)?;
    let value = template
        .evaluate(contexts)
        .map_err(|error| JobMatrixError::Expression {
            expression: text.to_owned(),
            error,
        })?;
    Ok(value.to_json())
}

/// The contexts (lowercase) the matrix's expressions read.
fn contexts_read(matrix: &Matrix) -> Result<BTreeSet<String>, JobMatrixError> {
    let mut reads = BTreeSet::new();
    for text in matrix_expressions(matrix) {
        let template = parse(&text)?;
        for expr in template.expressions() {
            reads.extend(
                expr.references()
                    .iter()
                    .map(|r| r.name.to_ascii_lowercase()),
            );
        }
    }
    Ok(reads)
}

/// The expression strings in a matrix, in source order.
fn matrix_expressions(matrix: &Matrix) -> Vec<String> {
    let mut found = Vec::new();
    match matrix {
        Matrix::Expr(text) => found.push(text.clone()),
        Matrix::Map {
            dimensions,
            include,
            exclude,
        } => {
            let lists = include.iter().chain(exclude).map(|l| &l.value);
            for yaml in dimensions.iter().map(|(_, v)| &v.value).chain(lists) {
                expressions(yaml, &mut found);
            }
        }
    }
    found
}

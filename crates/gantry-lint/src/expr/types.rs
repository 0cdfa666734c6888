//! The types the checker infers for expressions: GitHub's value kinds, with object shapes for
//! the contexts whose properties are known. Shapes are shared (`Arc`): every reference to
//! `github` would otherwise copy its forty properties.

use std::sync::Arc;

/// What an expression is known to evaluate to. `Any` means unknown: nothing is reported about it.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    Any,
    Null,
    Bool,
    Number,
    String,
    Array(Box<Ty>),
    Object(Arc<Obj>),
}

/// Why an object has the properties it has, so a missing one gets a message that says what to
/// do about it.
#[derive(Debug, Clone, PartialEq)]
pub enum Hint {
    /// A fixed shape (`github`, `runner`, ...).
    Context(&'static str),
    /// `steps`: ids of earlier steps of the job.
    Steps,
    /// `needs`: the job's `needs:`.
    Needs,
    /// `jobs` (in `on.workflow_call.outputs`): the workflow's jobs.
    Jobs,
    /// `inputs`: the workflow's dispatch and call inputs.
    Inputs,
    /// `matrix`: the job's matrix keys.
    Matrix,
    /// `needs.<job>.outputs`.
    JobOutputs(String),
    /// `steps.<id>.outputs` of a step whose action declares its outputs.
    StepOutputs { step: String, action: String },
    /// `secrets` of a reusable workflow that declares the secrets it takes.
    Secrets,
}

/// An object's known properties (lower-cased names); `rest` is the type of any other property,
/// `None` when no other property exists.
#[derive(Debug, Clone, PartialEq)]
pub struct Obj {
    pub props: Vec<(String, Ty)>,
    pub rest: Option<Box<Ty>>,
    pub hint: Hint,
}

impl Obj {
    pub fn strict(hint: Hint, props: Vec<(String, Ty)>) -> Obj {
        Obj {
            props,
            rest: None,
            hint,
        }
    }

    /// An object whose every property has type `ty` (`secrets`, `vars`, `env`).
    pub fn map(ty: Ty) -> Obj {
        Obj {
            props: Vec::new(),
            rest: Some(Box::new(ty)),
            hint: Hint::Context("object"),
        }
    }

    pub fn get(&self, name: &str) -> Option<Ty> {
        self.props
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, t)| t.clone())
            .or_else(|| self.rest.as_deref().cloned())
    }

    /// The type of `obj.*`: the one type all values share, else `Any`.
    pub fn values(&self) -> Ty {
        let mut types = self
            .props
            .iter()
            .map(|(_, t)| t)
            .chain(self.rest.as_deref());
        let Some(first) = types.next() else {
            return Ty::Any;
        };
        if types.all(|t| t == first) {
            first.clone()
        } else {
            Ty::Any
        }
    }

    /// The property names, for messages.
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.props.iter().map(|(n, _)| n.as_str()).collect();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    }
}

impl Ty {
    pub fn object(hint: Hint, props: Vec<(&str, Ty)>) -> Ty {
        Ty::Object(Arc::new(Obj::strict(
            hint,
            props
                .into_iter()
                .map(|(n, t)| (n.to_ascii_lowercase(), t))
                .collect(),
        )))
    }

    pub fn map(ty: Ty) -> Ty {
        Ty::Object(Arc::new(Obj::map(ty)))
    }

    pub fn obj(obj: Obj) -> Ty {
        Ty::Object(Arc::new(obj))
    }

    /// How the type reads in a message.
    pub fn name(&self) -> &'static str {
        match self {
            Ty::Any => "any",
            Ty::Null => "null",
            Ty::Bool => "boolean",
            Ty::Number => "number",
            Ty::String => "string",
            Ty::Array(_) => "array",
            Ty::Object(_) => "object",
        }
    }

    /// Objects and arrays: compared by identity, printed as `Object`/`Array`.
    pub fn is_container(&self) -> bool {
        matches!(self, Ty::Array(_) | Ty::Object(_))
    }

    /// The type both branches of `a || b` may have.
    pub fn join(self, other: Ty) -> Ty {
        if self == other { self } else { Ty::Any }
    }
}

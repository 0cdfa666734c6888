//! GitHub's template schema (`schema/workflow-v1.0.json`, `schema/action-v1.0.json`), compiled
//! once into an immutable table of definitions that the schema walker (`schema_walk.rs`) follows.
//!
//! The format is GitHub's, not JSON Schema: every definition is a null, boolean, number, string,
//! sequence, mapping or one-of (`allowed-values` is a one-of of string constants), and may carry
//! a `context` list: the named values and `fn(min,max)` functions allowed in expressions there.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use indexmap::IndexMap;
use serde_json::Value;

/// Index of a definition in [`Schema::defs`].
pub type DefId = u32;

/// The hasher of the schema's tables: rustc's FxHash. Only the embedded schema's names are ever
/// inserted (user keys are only looked up), so there is no flooding to defend against, and
/// SipHash on the walker's ~160k property lookups per corpus cost 5% of `gantry validate`.
pub type SchemaHasher = BuildHasherDefault<FxHasher>;

#[derive(Debug, Clone, Copy, Default)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let mut word = [0; 8];
        let rest = chunks.remainder();
        word[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(word) ^ rest.len() as u64);
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[derive(Debug)]
pub struct Schema {
    pub defs: Vec<Def>,
    by_name: HashMap<String, DefId, SchemaHasher>,
    /// Per definition: its scalar definitions, one-of expanded (computed once, see `index`).
    scalars: Vec<Vec<DefId>>,
    /// Per definition: itself or its one-of members that are mappings.
    mappings: Vec<Vec<DefId>>,
}

#[derive(Debug)]
pub struct Def {
    pub name: String,
    pub kind: DefKind,
    /// This definition's own `context` entries (the walker adds the parent's).
    pub context: Vec<ContextItem>,
    /// `if:` values are expressions even without `${{ }}`.
    pub is_condition: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextItem {
    Named(String),
    Function { name: String, min: u32, max: u32 },
}

#[derive(Debug)]
pub enum DefKind {
    Null,
    Boolean,
    Number,
    String(StringDef),
    Sequence { item: DefId },
    Mapping(MappingDef),
    OneOf(Vec<DefId>),
}

#[derive(Debug, Default)]
pub struct StringDef {
    pub constant: Option<String>,
    pub ignore_case: bool,
    pub require_non_empty: bool,
}

#[derive(Debug, Default)]
pub struct MappingDef {
    pub properties: IndexMap<String, Property, SchemaHasher>,
    pub loose_key: Option<DefId>,
    pub loose_value: Option<DefId>,
}

#[derive(Debug, Clone, Copy)]
pub struct Property {
    pub ty: DefId,
    pub required: bool,
}

/// A scalar as the walker sees it, for matching against scalar definitions.
#[derive(Debug, Clone, Copy)]
pub enum Literal<'a> {
    Null,
    Bool,
    Number,
    String(&'a str),
}

impl StringDef {
    fn is_match(&self, value: &str) -> bool {
        match &self.constant {
            Some(c) if self.ignore_case => c.eq_ignore_ascii_case(value),
            Some(c) => c == value,
            None => !self.require_non_empty || !value.is_empty(),
        }
    }
}

impl Def {
    /// Whether this scalar definition accepts `lit` (false for non-scalar definitions).
    pub fn matches(&self, lit: Literal<'_>) -> bool {
        match (&self.kind, lit) {
            (DefKind::Null, Literal::Null)
            | (DefKind::Boolean, Literal::Bool)
            | (DefKind::Number, Literal::Number) => true,
            (DefKind::String(s), Literal::String(v)) => s.is_match(v),
            _ => false,
        }
    }
}

/// Errors in a schema file: only possible if the embedded JSON is broken, which a test rules out.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("schema is not valid json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("schema definition '{0}' is malformed")]
    Malformed(String),
    #[error("schema definition '{0}' not found")]
    Missing(String),
}

pub const WORKFLOW_SCHEMA_JSON: &str = include_str!("../schema/workflow-v1.0.json");
pub const ACTION_SCHEMA_JSON: &str = include_str!("../schema/action-v1.0.json");

/// The compiled workflow schema, parsed at first use.
pub fn workflow_schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| compile_or_empty(WORKFLOW_SCHEMA_JSON))
}

/// The compiled action schema, parsed at first use.
pub fn action_schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| compile_or_empty(ACTION_SCHEMA_JSON))
}

/// The embedded schemas are checked by a unit test, so failure here means a broken build; fall
/// back to an empty schema (every document then fails with "missing definition") rather than
/// panic in a library.
fn compile_or_empty(json: &str) -> Schema {
    Schema::compile(json).unwrap_or_else(|_| {
        let mut s = Schema::builtins();
        s.index();
        s
    })
}

impl Schema {
    pub fn get(&self, id: DefId) -> &Def {
        &self.defs[id as usize]
    }

    pub fn id(&self, name: &str) -> Option<DefId> {
        self.by_name.get(name).copied()
    }

    /// The `any` definition (null, boolean, number, string, sequence or mapping).
    pub fn any(&self) -> DefId {
        self.id("any").unwrap_or(0)
    }

    /// Scalar definitions reachable through one-of definitions, in order.
    pub fn scalar_defs(&self, id: DefId) -> &[DefId] {
        self.scalars.get(id as usize).map_or(&[], Vec::as_slice)
    }

    /// The mapping definitions GitHub's strict schema (`on-mapping-strict`) gives `event`'s
    /// configuration; empty for an unknown event or one that takes none (`status`, `fork`).
    pub fn event_config_mappings(&self, event: &str) -> &[DefId] {
        let strict = self.id("on-mapping-strict").map(|id| &self.get(id).kind);
        match strict {
            Some(DefKind::Mapping(events)) => events
                .properties
                .get(event)
                .map_or(&[], |property| self.mapping_defs(property.ty)),
            _ => &[],
        }
    }

    /// Whether one of `defs` (mapping definitions) has the property `key`.
    pub fn mappings_have(&self, defs: &[DefId], key: &str) -> bool {
        defs.iter().any(|def| match &self.get(*def).kind {
            DefKind::Mapping(m) => m.properties.contains_key(key),
            _ => false,
        })
    }

    /// The definition itself or its one-of members that are mappings.
    pub fn mapping_defs(&self, id: DefId) -> &[DefId] {
        self.mappings.get(id as usize).map_or(&[], Vec::as_slice)
    }

    /// Precomputes the one-of expansions the walker asks for at every node.
    fn index(&mut self) {
        let n = self.defs.len() as DefId;
        self.scalars = (0..n)
            .map(|id| {
                let mut out = Vec::new();
                self.collect_scalars(id, &mut out, 0);
                out
            })
            .collect();
        self.mappings = (0..n)
            .map(|id| {
                self.members(id)
                    .filter(|&d| matches!(self.get(d).kind, DefKind::Mapping(_)))
                    .collect()
            })
            .collect();
    }

    fn collect_scalars(&self, id: DefId, out: &mut Vec<DefId>, depth: usize) {
        // One-of definitions may not nest deeply; the bound only guards against a cyclic schema.
        if depth > 16 {
            return;
        }
        match &self.get(id).kind {
            DefKind::Null | DefKind::Boolean | DefKind::Number | DefKind::String(_) => out.push(id),
            DefKind::OneOf(ids) => {
                for &nested in ids {
                    self.collect_scalars(nested, out, depth + 1);
                }
            }
            DefKind::Sequence { .. } | DefKind::Mapping(_) => {}
        }
    }

    /// The definition itself or its one-of members that are sequences.
    pub fn sequence_item(&self, id: DefId) -> Option<DefId> {
        self.members(id).find_map(|d| match self.get(d).kind {
            DefKind::Sequence { item } => Some(item),
            _ => None,
        })
    }

    pub fn mapping(&self, id: DefId) -> Option<&MappingDef> {
        match &self.get(id).kind {
            DefKind::Mapping(m) => Some(m),
            _ => None,
        }
    }

    fn members(&self, id: DefId) -> impl Iterator<Item = DefId> + '_ {
        let nested: &[DefId] = match &self.get(id).kind {
            DefKind::OneOf(ids) => ids,
            _ => &[],
        };
        let own = (!matches!(self.get(id).kind, DefKind::OneOf(_))).then_some(id);
        own.into_iter().chain(nested.iter().copied())
    }

    /// The built-in definitions every schema has.
    fn builtins() -> Schema {
        let mut s = Schema {
            defs: Vec::new(),
            by_name: HashMap::default(),
            scalars: Vec::new(),
            mappings: Vec::new(),
        };
        s.add("null", DefKind::Null, Vec::new());
        s.add("boolean", DefKind::Boolean, Vec::new());
        s.add("number", DefKind::Number, Vec::new());
        s.add("string", DefKind::String(StringDef::default()), Vec::new());
        let any = s.reserve("any");
        s.add("sequence", DefKind::Sequence { item: any }, Vec::new());
        let string = s.by_name["string"];
        let mapping = MappingDef {
            properties: IndexMap::default(),
            loose_key: Some(string),
            loose_value: Some(any),
        };
        s.add("mapping", DefKind::Mapping(mapping), Vec::new());
        let members = ["null", "boolean", "number", "string", "sequence", "mapping"];
        s.defs[any as usize].kind = DefKind::OneOf(members.iter().map(|m| s.by_name[*m]).collect());
        s
    }

    fn reserve(&mut self, name: &str) -> DefId {
        if let Some(id) = self.id(name) {
            return id;
        }
        self.add(name, DefKind::Null, Vec::new())
    }

    fn add(&mut self, name: &str, kind: DefKind, context: Vec<ContextItem>) -> DefId {
        let def = Def {
            name: name.to_owned(),
            kind,
            is_condition: name.ends_with("-if"),
            context,
        };
        if let Some(&id) = self.by_name.get(name) {
            self.defs[id as usize] = def;
            return id;
        }
        let id = self.defs.len() as DefId;
        self.defs.push(def);
        self.by_name.insert(name.to_owned(), id);
        id
    }

    /// Parses a schema file. Names are resolved in a second step, so definitions may refer to
    /// ones that come later in the file.
    pub fn compile(json: &str) -> Result<Schema, SchemaError> {
        let root: Value = serde_json::from_str(json)?;
        let defs = root
            .get("definitions")
            .and_then(Value::as_object)
            .ok_or_else(|| SchemaError::Malformed("definitions".into()))?;
        let mut s = Schema::builtins();
        for name in defs.keys() {
            s.reserve(name);
        }
        for (name, body) in defs {
            s.compile_def(name, body)?;
        }
        s.index();
        Ok(s)
    }

    fn compile_def(&mut self, name: &str, body: &Value) -> Result<(), SchemaError> {
        let context = body
            .get("context")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(parse_context)
                    .collect()
            })
            .unwrap_or_default();
        let kind = self.def_kind(name, body)?;
        self.add(name, kind, context);
        Ok(())
    }

    /// What a definition is, by the one key that says so.
    fn def_kind(&mut self, name: &str, body: &Value) -> Result<DefKind, SchemaError> {
        let malformed = || SchemaError::Malformed(name.to_owned());
        if body.get("null").is_some() {
            return Ok(DefKind::Null);
        }
        if body.get("boolean").is_some() {
            return Ok(DefKind::Boolean);
        }
        if body.get("number").is_some() {
            return Ok(DefKind::Number);
        }
        if let Some(s) = body.get("string") {
            return Ok(DefKind::String(string_def(s)));
        }
        if let Some(seq) = body.get("sequence") {
            let item = seq
                .get("item-type")
                .and_then(Value::as_str)
                .ok_or_else(malformed)?;
            return Ok(DefKind::Sequence {
                item: self.lookup(item)?,
            });
        }
        if let Some(m) = body.get("mapping") {
            return Ok(DefKind::Mapping(self.mapping_def(m)?));
        }
        if let Some(list) = body.get("one-of").and_then(Value::as_array) {
            let ids = list
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(malformed)
                        .and_then(|n| self.lookup(n))
                })
                .collect::<Result<_, _>>()?;
            return Ok(DefKind::OneOf(ids));
        }
        match body.get("allowed-values").and_then(Value::as_array) {
            Some(list) => Ok(DefKind::OneOf(self.allowed_values(name, list))),
            None => Err(malformed()),
        }
    }

    /// `allowed-values` becomes a one-of of string constants named `<definition>-<value>`.
    fn allowed_values(&mut self, name: &str, list: &[Value]) -> Vec<DefId> {
        list.iter()
            .filter_map(Value::as_str)
            .map(|v| {
                let def = StringDef {
                    constant: Some(v.to_owned()),
                    ..StringDef::default()
                };
                self.add(&format!("{name}-{v}"), DefKind::String(def), Vec::new())
            })
            .collect()
    }

    fn mapping_def(&self, m: &Value) -> Result<MappingDef, SchemaError> {
        let mut def = MappingDef::default();
        if let Some(props) = m.get("properties").and_then(Value::as_object) {
            for (key, p) in props {
                let (ty, required) = match p {
                    Value::String(ty) => (ty.as_str(), false),
                    _ => (
                        p.get("type")
                            .and_then(Value::as_str)
                            .ok_or_else(|| SchemaError::Malformed(key.clone()))?,
                        p.get("required").and_then(Value::as_bool).unwrap_or(false),
                    ),
                };
                let ty = self.lookup(ty)?;
                def.properties
                    .insert(key.clone(), Property { ty, required });
            }
        }
        let lookup = |k: &str| {
            m.get(k)
                .and_then(Value::as_str)
                .map(|n| self.lookup(n))
                .transpose()
        };
        def.loose_key = lookup("loose-key-type")?;
        def.loose_value = lookup("loose-value-type")?;
        Ok(def)
    }

    fn lookup(&self, name: &str) -> Result<DefId, SchemaError> {
        self.id(name)
            .ok_or_else(|| SchemaError::Missing(name.to_owned()))
    }
}

fn string_def(s: &Value) -> StringDef {
    StringDef {
        constant: s.get("constant").and_then(Value::as_str).map(str::to_owned),
        ignore_case: s
            .get("ignore-case")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        require_non_empty: s
            .get("require-non-empty")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}

/// `github` is a named value; `hashFiles(1,255)` a function with its arity (`MAX` = unbounded).
fn parse_context(item: &str) -> ContextItem {
    let Some((name, args)) = item.split_once('(') else {
        return ContextItem::Named(item.to_owned());
    };
    let args = args.trim_end_matches(')');
    let (min, max) = args.split_once(',').unwrap_or((args, args));
    let num = |s: &str| match s.trim() {
        "MAX" => u32::MAX,
        n => n.parse().unwrap_or(0),
    };
    ContextItem::Function {
        name: name.to_owned(),
        min: num(min),
        max: num(max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_schemas_compile() {
        let wf = Schema::compile(WORKFLOW_SCHEMA_JSON).unwrap();
        assert!(wf.id("workflow-root").is_some());
        assert!(wf.id("pull-request-activity-type-opened").is_some());
        let job_if = wf.get(wf.id("job-if").unwrap());
        assert!(job_if.is_condition);
        assert!(job_if.context.contains(&ContextItem::Function {
            name: "failure".into(),
            min: 0,
            max: u32::MAX
        }));
        let action = Schema::compile(ACTION_SCHEMA_JSON).unwrap();
        assert!(action.id("action-root").is_some());
    }
}

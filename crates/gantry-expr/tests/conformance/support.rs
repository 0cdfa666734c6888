//! A JSON-backed evaluation context shared by the tests.

use gantry_expr::{EvalContext, ExprError, Value};

/// Named values from a JSON object (looked up case-insensitively) and optional status results.
#[derive(Default)]
pub struct JsonContext {
    pub values: Vec<(String, Value)>,
    /// What `success()`/`failure()`/... return; `None` = the functions are unknown.
    pub status: Option<&'static str>,
}

impl JsonContext {
    pub fn from_json(json: &serde_json::Value) -> Self {
        let values = json
            .as_object()
            .map(|map| {
                map.iter()
                    .map(|(k, v)| (k.clone(), Value::from(v)))
                    .collect()
            })
            .unwrap_or_default();
        JsonContext {
            values,
            status: None,
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.iter().map(|(k, _)| k.as_str())
    }
}

impl EvalContext for JsonContext {
    fn named_value(&self, name: &str) -> Option<Value> {
        self.values
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    fn call_function(&self, name: &str, _args: &[Value]) -> Option<Result<Value, ExprError>> {
        let status = self.status?;
        let name = name.to_ascii_lowercase();
        let result = match name.as_str() {
            "always" => true,
            "success" | "failure" | "cancelled" => name == status,
            _ => return None,
        };
        Some(Ok(Value::Bool(result)))
    }
}

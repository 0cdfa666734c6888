//! The bridge to `gantry-expr`: checks one expression against the named values and functions
//! that the schema allows where it was written.

use crate::schema::ContextItem;

/// The context entries in force at a node: the schema's `context` lists from the root down.
/// A linked list on the stack, so descending into a definition never allocates.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub items: &'a [ContextItem],
    pub parent: Option<&'a Ctx<'a>>,
}

impl<'a> Ctx<'a> {
    pub const EMPTY: Ctx<'static> = Ctx {
        items: &[],
        parent: None,
    };

    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.parent.is_none_or(|p| p.is_empty())
    }

    /// Every entry, outermost first (duplicates are harmless to the expression parser).
    pub fn for_each(&self, f: &mut impl FnMut(&'a ContextItem)) {
        if let Some(p) = self.parent {
            p.for_each(f);
        }
        self.items.iter().for_each(f);
    }
}

/// The expression parser's options for the entries in force at `ctx`.
pub fn parse_options(ctx: &Ctx<'_>) -> gantry_expr::ParseOptions {
    let mut options = gantry_expr::ParseOptions::new();
    ctx.for_each(&mut |item| {
        let taken = std::mem::take(&mut options);
        options = match item {
            ContextItem::Named(name) => taken.named_value(name),
            ContextItem::Function { name, min, max } => taken.function(
                name,
                usize::try_from(*min).unwrap_or(usize::MAX),
                usize::try_from(*max).unwrap_or(usize::MAX),
            ),
        };
    });
    options
}

/// An identity for the entries in force at `ctx`: the addresses of the schema's context lists
/// along the chain. Equal keys mean equal options, so options can be built once per key.
pub fn ctx_key(ctx: &Ctx<'_>) -> Vec<usize> {
    let mut key = Vec::new();
    let mut level = Some(ctx);
    while let Some(c) = level {
        if !c.items.is_empty() {
            key.push(c.items.as_ptr() as usize);
        }
        level = c.parent;
    }
    key
}

/// Parses `expr` (without `${{ }}`) and returns GitHub's error message if it is not valid.
pub fn check_expression(expr: &str, options: &gantry_expr::ParseOptions) -> Option<String> {
    gantry_expr::parse(expr, options)
        .err()
        .map(|e| e.to_string())
}

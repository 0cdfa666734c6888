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

/// Parses `expr` (without `${{ }}`) and returns GitHub's error message if it is not valid here.
pub fn check_expression(expr: &str, ctx: &Ctx<'_>) -> Option<String> {
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
    gantry_expr::parse(expr, &options)
        .err()
        .map(|e| e.to_string())
}

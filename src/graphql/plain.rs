//! GraphQL output of the three types on every session check: `User`, `Session` and
//! `SessionInfo`, declared once by [`plain_objects!`] (in `model.rs`).
//!
//! They are plain data, so their selection sets are answered in place: one pass over
//! the fields, fragments and aliases, no future or `IndexMap` lookup per field. The
//! derived resolver spends a boxed future, a context and the container machinery on
//! every field, a large share of a GraphQL session query (README, Performance). Their
//! schema entries still come from `#[derive(SimpleObject)]`, on registration types the
//! macro declares from the same field list, so the SDL is the derive's (the snapshot of
//! `schema.graphql` guards it, and a test here resolves every registered field).
//!
//! `@skip` and `@include` are applied by async-graphql before execution; the schema
//! has no other directives. Extensions are not called for these nested fields.

use std::collections::HashMap;

use async_graphql::parser::types::{Field, FragmentDefinition, Selection, SelectionSet};
use async_graphql::{Name, Positioned, ScalarType, ServerError, ServerResult, Value};

use crate::domain::Timestamp;

/// A selection set to answer and the document's fragments: what the in-place resolver
/// reads, whether the executor called it (`OutputType::resolve`) or the fast path did
/// (`fast.rs`, straight from the parsed document).
#[derive(Clone, Copy)]
pub(crate) struct Selected<'a> {
    pub set: &'a Positioned<SelectionSet>,
    pub fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
}

impl<'a> Selected<'a> {
    fn with_set(self, set: &'a Positioned<SelectionSet>) -> Selected<'a> {
        Selected { set, ..self }
    }
}

/// A plain object: a type name and the value of each field by its GraphQL name.
pub(crate) trait Plain {
    const NAME: &'static str;
    /// The value of field `name`; `sel` is the field's own selection set.
    fn field(&self, name: &str, sel: Selected<'_>) -> ServerResult<Value>;
}

fn string(s: &str) -> Value {
    Value::String(s.to_owned())
}

/// A field's value in a plain object: a leaf, or a nested plain object answered on
/// the field's own selection set.
pub(crate) trait PlainField {
    fn plain(&self, sel: Selected<'_>) -> ServerResult<Value>;
}

impl PlainField for String {
    fn plain(&self, _: Selected<'_>) -> ServerResult<Value> {
        Ok(string(self))
    }
}

impl PlainField for Option<String> {
    fn plain(&self, _: Selected<'_>) -> ServerResult<Value> {
        Ok(self.as_deref().map_or(Value::Null, string))
    }
}

impl PlainField for Vec<String> {
    fn plain(&self, _: Selected<'_>) -> ServerResult<Value> {
        Ok(Value::List(self.iter().map(|s| string(s)).collect()))
    }
}

impl PlainField for bool {
    fn plain(&self, _: Selected<'_>) -> ServerResult<Value> {
        Ok(Value::Boolean(*self))
    }
}

impl PlainField for Timestamp {
    fn plain(&self, _: Selected<'_>) -> ServerResult<Value> {
        Ok(self.to_value())
    }
}

pub(crate) fn unknown(type_name: &str, name: &str) -> ServerError {
    // Unreachable after validation; kept as an error rather than a panic.
    ServerError::new(
        format!(r#"Unknown field "{name}" on type "{type_name}"."#),
        None,
    )
}

/// Answers `sel`'s selection set on `value`.
pub(crate) fn resolve<T: Plain>(value: &T, sel: Selected<'_>) -> ServerResult<Value> {
    let mut out = async_graphql::indexmap::IndexMap::with_capacity(sel.set.node.items.len());
    collect(value, sel, sel.set, &mut out)?;
    Ok(Value::Object(out))
}

fn collect<'a, T: Plain>(
    value: &T,
    sel: Selected<'a>,
    set: &'a Positioned<SelectionSet>,
    out: &mut async_graphql::indexmap::IndexMap<Name, Value>,
) -> ServerResult<()> {
    for selection in &set.node.items {
        match &selection.node {
            Selection::Field(f) => {
                let field: &Field = &f.node;
                let v = if field.name.node == "__typename" {
                    string(T::NAME)
                } else {
                    value.field(field.name.node.as_str(), sel.with_set(&field.selection_set))?
                };
                merge(out, field.response_key().node.clone(), v);
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = sel.fragments.get(&spread.node.fragment_name.node)
                    && fragment.node.type_condition.node.on.node == T::NAME
                {
                    collect(value, sel, &fragment.node.selection_set, out)?;
                }
            }
            Selection::InlineFragment(inline) => {
                let applies = inline
                    .node
                    .type_condition
                    .as_ref()
                    .is_none_or(|c| c.node.on.node == T::NAME);
                if applies {
                    collect(value, sel, &inline.node.selection_set, out)?;
                }
            }
        }
    }
    Ok(())
}

/// The same response key selected twice: objects merge, as in GraphQL's field merging.
pub(crate) fn merge(out: &mut async_graphql::indexmap::IndexMap<Name, Value>, key: Name, v: Value) {
    use async_graphql::indexmap::map::Entry;
    match (out.entry(key), v) {
        (Entry::Occupied(mut prev), Value::Object(next)) => match prev.get_mut() {
            Value::Object(prev) => {
                for (k, v) in next {
                    merge(prev, k, v);
                }
            }
            other => *other = Value::Object(next),
        },
        (Entry::Occupied(mut prev), v) => {
            prev.insert(v);
        }
        (Entry::Vacant(slot), v) => {
            slot.insert(v);
        }
    }
}

/// Declares plain objects once: for each, the response struct both doors render
/// (serde + OpenAPI), its GraphQL registration type (the derive's schema entry,
/// in the module `registered`), and its in-place resolver. Each field names its
/// GraphQL spelling beside it; `every_registered_field_resolves` (below) fails if one
/// is misspelt.
macro_rules! plain_objects {
    ($(
        $(#[doc = $tdoc:literal])*
        pub struct $name:ident {
            $( $(#[doc = $fdoc:literal])* $field:ident : $ty:ty => $gname:literal ),* $(,)?
        }
    )*) => {
        $(
            $(#[doc = $tdoc])*
            #[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
            #[serde(rename_all = "camelCase")]
            pub struct $name {
                $( $(#[doc = $fdoc])* pub $field: $ty, )*
            }

            impl $crate::graphql::plain::Plain for $name {
                const NAME: &'static str = stringify!($name);
                fn field(
                    &self,
                    name: &str,
                    sel: $crate::graphql::plain::Selected<'_>,
                ) -> async_graphql::ServerResult<async_graphql::Value> {
                    match name {
                        $( $gname => $crate::graphql::plain::PlainField::plain(&self.$field, sel), )*
                        _ => Err($crate::graphql::plain::unknown(stringify!($name), name)),
                    }
                }
            }

            impl $crate::graphql::plain::PlainField for $name {
                fn plain(
                    &self,
                    sel: $crate::graphql::plain::Selected<'_>,
                ) -> async_graphql::ServerResult<async_graphql::Value> {
                    $crate::graphql::plain::resolve(self, sel)
                }
            }

            impl async_graphql::OutputType for $name {
                fn type_name() -> std::borrow::Cow<'static, str> {
                    <registered::$name as async_graphql::OutputType>::type_name()
                }

                fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
                    <registered::$name as async_graphql::OutputType>::create_type_info(registry)
                }

                async fn resolve(
                    &self,
                    ctx: &async_graphql::ContextSelectionSet<'_>,
                    _field: &async_graphql::Positioned<async_graphql::parser::types::Field>,
                ) -> async_graphql::ServerResult<async_graphql::Value> {
                    let sel = $crate::graphql::plain::Selected {
                        set: ctx.item,
                        fragments: &ctx.query_env.fragments,
                    };
                    $crate::graphql::plain::resolve(self, sel)
                }
            }
        )*

        /// The registration types: the schema entries of the plain objects, never
        /// constructed. Their names are the objects' own, so the derive names them.
        #[allow(dead_code)]
        mod registered {
            use super::*;
            $(
                $(#[doc = $tdoc])*
                #[derive(async_graphql::SimpleObject)]
                pub struct $name {
                    $( $(#[doc = $fdoc])* $field: $ty, )*
                }
            )*
        }
    };
}

pub(crate) use plain_objects;

//! GraphQL output of the three types on every session check: `User`, `Session` and
//! `SessionInfo`.
//!
//! They are plain data, so their selection sets are answered in place: one pass over
//! the fields, fragments and aliases, no future or `IndexMap` lookup per field. The
//! derived resolver spends a boxed future, a context and the container machinery on
//! every field, a large share of a GraphQL session query (README, Performance). Their schema entries
//! still come from `#[derive(SimpleObject)]`, on the registration types below, so the
//! SDL is the derive's (the snapshot of `schema.graphql` guards it).
//!
//! `@skip` and `@include` are applied by async-graphql before execution; the schema
//! has no other directives. Extensions are not called for these nested fields.

use std::borrow::Cow;

use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{
    ContextSelectionSet, Name, OutputType, Positioned, ScalarType, ServerError, ServerResult,
    SimpleObject, Value,
};

use crate::domain::Timestamp;
use crate::model::{Session, SessionInfo, User};

/// A plain object: a type name and the value of each field by its GraphQL name.
trait Plain {
    const NAME: &'static str;
    /// The value of field `name`; `ctx` is the field's own selection set.
    fn field(&self, name: &str, ctx: &ContextSelectionSet<'_>) -> ServerResult<Value>;
}

fn string(s: &str) -> Value {
    Value::String(s.to_owned())
}

fn optional(s: &Option<String>) -> Value {
    s.as_deref().map_or(Value::Null, string)
}

fn time(t: Timestamp) -> Value {
    t.to_value()
}

fn unknown(type_name: &str, name: &str) -> ServerError {
    // Unreachable after validation; kept as an error rather than a panic.
    ServerError::new(
        format!(r#"Unknown field "{name}" on type "{type_name}"."#),
        None,
    )
}

impl Plain for User {
    const NAME: &'static str = "User";
    fn field(&self, name: &str, _: &ContextSelectionSet<'_>) -> ServerResult<Value> {
        Ok(match name {
            "id" => string(&self.id),
            "email" => string(&self.email),
            "name" => string(&self.name),
            "emailVerified" => Value::Boolean(self.email_verified),
            "image" => optional(&self.image),
            "createdAt" => time(self.created_at),
            "updatedAt" => time(self.updated_at),
            _ => return Err(unknown(Self::NAME, name)),
        })
    }
}

impl Plain for Session {
    const NAME: &'static str = "Session";
    fn field(&self, name: &str, _: &ContextSelectionSet<'_>) -> ServerResult<Value> {
        Ok(match name {
            "id" => string(&self.id),
            "userId" => string(&self.user_id),
            "expiresAt" => time(self.expires_at),
            "createdAt" => time(self.created_at),
            "ipAddress" => optional(&self.ip_address),
            "userAgent" => optional(&self.user_agent),
            _ => return Err(unknown(Self::NAME, name)),
        })
    }
}

impl Plain for SessionInfo {
    const NAME: &'static str = "SessionInfo";
    fn field(&self, name: &str, ctx: &ContextSelectionSet<'_>) -> ServerResult<Value> {
        match name {
            "session" => resolve(&self.session, ctx),
            "user" => resolve(&self.user, ctx),
            _ => Err(unknown(Self::NAME, name)),
        }
    }
}

/// Answers `ctx`'s selection set on `value`.
fn resolve<T: Plain>(value: &T, ctx: &ContextSelectionSet<'_>) -> ServerResult<Value> {
    let mut out = async_graphql::indexmap::IndexMap::with_capacity(ctx.item.node.items.len());
    collect(value, ctx, ctx.item, &mut out)?;
    Ok(Value::Object(out))
}

fn collect<'a, T: Plain>(
    value: &T,
    ctx: &ContextSelectionSet<'a>,
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
                    value.field(
                        field.name.node.as_str(),
                        &ctx.with_selection_set(&field.selection_set),
                    )?
                };
                merge(out, field.response_key().node.clone(), v);
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = ctx.query_env.fragments.get(&spread.node.fragment_name.node)
                    && fragment.node.type_condition.node.on.node == T::NAME
                {
                    collect(value, ctx, &fragment.node.selection_set, out)?;
                }
            }
            Selection::InlineFragment(inline) => {
                let applies = inline
                    .node
                    .type_condition
                    .as_ref()
                    .is_none_or(|c| c.node.on.node == T::NAME);
                if applies {
                    collect(value, ctx, &inline.node.selection_set, out)?;
                }
            }
        }
    }
    Ok(())
}

/// The same response key selected twice: objects merge, as in GraphQL's field merging.
fn merge(out: &mut async_graphql::indexmap::IndexMap<Name, Value>, key: Name, v: Value) {
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

macro_rules! plain_output {
    ($ty:ty, $registration:ty) => {
        impl OutputType for $ty {
            fn type_name() -> Cow<'static, str> {
                <$registration as OutputType>::type_name()
            }

            fn create_type_info(registry: &mut Registry) -> String {
                <$registration as OutputType>::create_type_info(registry)
            }

            async fn resolve(
                &self,
                ctx: &ContextSelectionSet<'_>,
                _field: &Positioned<Field>,
            ) -> ServerResult<Value> {
                resolve(self, ctx)
            }
        }
    };
}

plain_output!(User, UserType);
plain_output!(Session, SessionType);
plain_output!(SessionInfo, SessionInfoType);

// Registration types: the schema entries of the three types, never constructed.

/// An account.
#[derive(SimpleObject)]
#[graphql(name = "User")]
#[allow(dead_code)]
struct UserType {
    /// UUID.
    id: String,
    /// Lower-case email address.
    email: String,
    name: String,
    email_verified: bool,
    image: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

/// A session; its secret token is never part of it.
#[derive(SimpleObject)]
#[graphql(name = "Session")]
#[allow(dead_code)]
struct SessionType {
    id: String,
    user_id: String,
    expires_at: Timestamp,
    created_at: Timestamp,
    ip_address: Option<String>,
    user_agent: Option<String>,
}

/// `GET /auth/session`, query `session`.
#[derive(SimpleObject)]
#[graphql(name = "SessionInfo")]
#[allow(dead_code)]
struct SessionInfoType {
    session: SessionType,
    user: UserType,
}

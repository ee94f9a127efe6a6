//! The session query answered without the executor.
//!
//! Every dashboard page asks `{ session { … } }`. Once a document has passed strict
//! validation (the document cache knows it), a query whose one root field is
//! `session`, without arguments, variables or directives, needs nothing of the
//! executor: the caller's session, rendered by the in-place resolver of `plain.rs` from
//! the parsed document. Anything else, and any error (no session), goes to the executor,
//! so errors are rendered in one place.
//!
//! The boundary: only `SessionInfo`, a type declared by `plain_objects!`, can be answered
//! here (`plain::resolve` takes only such types), and the answer comes from the field's
//! own `sessions::session_answer`, which the executor's resolver calls too. The test
//! that would catch this going stale,
//! `resolvers::the_session_fast_path_answers_what_the_executor_answers`, sends each
//! query shape twice over HTTP (the executor answers the first, unknown document, this
//! path the second) and requires identical bodies.

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{Name, Positioned, Value};

use super::plain::{self, Selected};
use crate::service::{AppState, RequestMeta};
use crate::web::{PresentedToken, refreshed_cookie};

/// The root field this path answers.
const SESSION_FIELD: &str = "session";

/// The answer and its `Set-Cookie` (a session extension re-issues the cookie).
pub(super) struct FastAnswer {
    pub body: async_graphql::Response,
    pub cookie: Option<String>,
}

/// The operation the executor would run: the document's one operation, when the request
/// names it or names none (a name that matches nothing is the executor's error to give).
fn only_operation<'a>(
    doc: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), None) => Some(&op.node),
        (DocumentOperations::Multiple(ops), name) if ops.len() == 1 => ops
            .iter()
            .next()
            .filter(|(n, _)| name.is_none_or(|name| n.as_str() == name))
            .map(|(_, o)| &o.node),
        _ => None,
    }
}

/// Whether `doc` is a query this path can answer exactly as the executor would: one
/// root `session` field (with several, the executor authenticates once per field, and
/// a due extension would be re-issued once per field).
fn eligible(doc: &ExecutableDocument, operation_name: Option<&str>) -> bool {
    let Some(op) = only_operation(doc, operation_name) else {
        return false;
    };
    op.ty == OperationType::Query
        && op.selection_set.node.items.len() == 1
        && op.variable_definitions.is_empty()
        && op.directives.is_empty()
        && op.selection_set.node.items.iter().all(|s| match &s.node {
            Selection::Field(f) => {
                f.node.name.node == SESSION_FIELD
                    && f.node.arguments.is_empty()
                    && f.node.directives.is_empty()
            }
            _ => false,
        })
        && no_directives(&op.selection_set)
        && doc
            .fragments
            .values()
            .all(|f| f.node.directives.is_empty() && no_directives(&f.node.selection_set))
}

fn no_directives(set: &Positioned<SelectionSet>) -> bool {
    set.node.items.iter().all(|s| match &s.node {
        Selection::Field(f) => f.node.directives.is_empty() && no_directives(&f.node.selection_set),
        Selection::FragmentSpread(f) => f.node.directives.is_empty(),
        Selection::InlineFragment(f) => {
            f.node.directives.is_empty() && no_directives(&f.node.selection_set)
        }
    })
}

/// The answer to a validated document, when this path can give it.
pub(super) async fn answer(
    app: &AppState,
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    token: &PresentedToken,
    meta: &RequestMeta,
) -> Option<FastAnswer> {
    if !eligible(doc, operation_name) {
        return None;
    }
    let p = app.authenticate(token.as_deref(), meta).await.ok()?;
    let cookie = refreshed_cookie(app.config(), token, &p);
    let info = super::sessions::session_answer(p);
    let root = &only_operation(doc, operation_name)?
        .selection_set
        .node
        .items;
    let mut data = async_graphql::indexmap::IndexMap::with_capacity(root.len());
    for s in root {
        let Selection::Field(f) = &s.node else {
            return None;
        };
        let sel = Selected {
            set: &f.node.selection_set,
            fragments: &doc.fragments,
        };
        let value = plain::resolve(&info, sel).ok()?;
        let key: Name = f.node.response_key().node.clone();
        plain::merge(&mut data, key, value);
    }
    Some(FastAnswer {
        body: async_graphql::Response::new(Value::Object(data)),
        cookie,
    })
}

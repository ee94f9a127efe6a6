//! `__schema { description }` answers `null`: latch's schema has no description.
//!
//! async-graphql 7 answers every schema with the same fixed text (the documentation
//! of the `__Schema` type), which no SDL declares: tools that ask for the schema
//! description (graphql-js `getIntrospectionQuery({schemaDescription: true})`,
//! graphql-core's `schema_description`) then build a schema that differs from
//! `schema.graphql`. The GraphQL specification lets the field be null.

use async_graphql::extensions::ResolveInfo;

/// Whether the field being resolved is `__Schema.description`, answered `null`.
pub fn is_schema_description(info: &ResolveInfo<'_>) -> bool {
    info.parent_type == "__Schema" && info.name == "description"
}

//! Statements assembled at run time (optional filters, lists of ids).

use sqlx::any::AnyArguments;
use sqlx::{Any, Arguments, Encode, Type};
use std::fmt::Write;

/// SQL text with numbered placeholders (`$1`, `$2`, …) and their values. sqlx's QueryBuilder
/// writes `?` for the Any driver, which PostgreSQL does not read; both engines read `$n`.
pub(crate) struct Statement<'a> {
    sql: String,
    args: AnyArguments<'a>,
    n: usize,
}

impl<'a> Statement<'a> {
    pub fn new(sql: impl Into<String>) -> Self {
        Self { sql: sql.into(), args: AnyArguments::default(), n: 0 }
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    pub fn push_bind<T: 'a + Encode<'a, Any> + Type<Any>>(&mut self, value: T) -> &mut Self {
        self.n += 1;
        let _ = write!(self.sql, "${}", self.n);
        // Adding a value to Any's argument list only pushes onto a vector: it cannot fail.
        let _ = self.args.add(value);
        self
    }

    /// `$k, $k+1, …` for each value.
    pub fn push_list<T: 'a + Encode<'a, Any> + Type<Any>>(
        &mut self,
        values: impl IntoIterator<Item = T>,
    ) -> &mut Self {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.push_bind(v);
        }
        self
    }

    pub fn build(&mut self) -> sqlx::query::Query<'_, Any, AnyArguments<'_>> {
        sqlx::query_with(&self.sql, std::mem::take(&mut self.args))
    }
}

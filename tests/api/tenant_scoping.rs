//! Ready for PostgreSQL distributed by tenant: every distinct SQL statement the whole suite ran
//! (logged to `GOALGRAPH_SQL_STATEMENT_LOG`, which `scripts/test` sets) is parsed, and each
//! tenant-owned table it reads or writes must be pinned to a tenant — a `tenant_id = …`
//! equality on that table (by its alias or name) in a `WHERE` or `JOIN … ON`, or `tenant_id`
//! among the columns an `INSERT` writes. On Citus that is what routes a statement to the one
//! worker holding the tenant (or makes a join co-located). The few statements that are
//! cross-tenant on purpose are named below, with why.

use std::collections::HashSet;
use std::ops::ControlFlow;

use serde_json::Value;
use sqlparser::ast::{
    BinaryOperator, Expr, Query, SetExpr, Statement, TableFactor, Visit, Visitor,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// The tables a Citus deployment distributes by `tenant_id` (docs/SCALING.md).
const DISTRIBUTED: [&str; 10] = [
    "objectives",
    "key_results",
    "check_ins",
    "milestones",
    "teams",
    "users",
    "cycles",
    "objective_activity",
    "outbox",
    "check_ins_default",
];

/// Statements that are cross-tenant on purpose: (name, fragments only they contain, why).
const CROSS_TENANT: [(&str, &[&str], &str); 7] = [
    (
        "outbox relay",
        &[
            r#"FROM "outbox" WHERE "outbox"."processed_at" IS NULL"#,
            "UPDATE outbox SET processed_at = now() WHERE id = ANY",
        ],
        "one relay at a time claims the oldest pending events of every tenant and marks them \
         relayed (runs on the coordinator)",
    ),
    (
        "outbox prune",
        &["DELETE FROM outbox"],
        "relayed events past their retention, whoever they belong to",
    ),
    (
        "outbox position",
        &[
            "SELECT COALESCE(max(id), 0) AS id FROM outbox",
            "AS outbox_pending",
        ],
        "the relay's high-water mark and lag, for reconcile, metrics and readiness",
    ),
    (
        "partition maintenance",
        &["goalgraph_ensure_check_in_partition"],
        "creates the coming fiscal years' check_ins partitions, for every tenant",
    ),
    (
        "bench seed",
        &[
            "LOCK TABLE objectives IN SHARE ROW EXCLUSIVE MODE",
            "SELECT COALESCE(max(id), 0) AS base FROM objectives",
            "setval(pg_get_serial_sequence('objectives', 'id')",
        ],
        "`seed --bench` numbers its objectives above every existing one (ids are global)",
    ),
    (
        "migrations",
        &["seaql_migrations"],
        "the migrator's bookkeeping",
    ),
    (
        "the suite's own checks",
        &[
            " AS n FROM ",
            "SELECT value FROM check_ins WHERE key_result_id = ",
        ],
        "tests count rows of their own database directly (not statements goalgraph runs)",
    ),
];

/// One table occurrence: its name and what the statement calls it (alias, else name).
struct Occurrence {
    table: String,
    qualifier: String,
}

/// Collects table occurrences, tenant predicates and INSERT targets of a statement.
#[derive(Default)]
struct Scoping {
    occurrences: Vec<Occurrence>,
    /// Qualifiers `q` with a `q.tenant_id = …` equality somewhere.
    pinned: HashSet<String>,
    /// Whether a bare `tenant_id = …` equality appears.
    pinned_bare: bool,
    /// Tables written by INSERT without a `tenant_id` column.
    inserts_without_tenant: Vec<String>,
    /// Names of common table expressions (not tables).
    ctes: HashSet<String>,
}

/// `tenant_id` or `q.tenant_id`: `Some(None)` or `Some(Some(q))`.
fn tenant_column(expr: &Expr) -> Option<Option<String>> {
    match expr {
        Expr::Identifier(ident) if ident.value == "tenant_id" => Some(None),
        Expr::CompoundIdentifier(parts)
            if parts.last().is_some_and(|p| p.value == "tenant_id") && parts.len() >= 2 =>
        {
            Some(Some(parts[parts.len() - 2].value.clone()))
        }
        Expr::Nested(inner) => tenant_column(inner),
        _ => None,
    }
}

impl Visitor for Scoping {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.ctes.insert(cte.alias.name.value.clone());
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, alias, .. } = factor {
            let table = name.to_string().trim_matches('"').to_owned();
            let qualifier = alias
                .as_ref()
                .map_or_else(|| table.clone(), |a| a.name.value.clone());
            self.occurrences.push(Occurrence { table, qualifier });
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } = expr
        {
            for side in [left, right] {
                match tenant_column(side) {
                    Some(Some(qualifier)) => {
                        self.pinned.insert(qualifier);
                    }
                    Some(None) => self.pinned_bare = true,
                    None => {}
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<()> {
        if let Statement::Insert(insert) = statement {
            let table = insert.table.to_string().trim_matches('"').to_owned();
            if !insert.columns.iter().any(|c| c.value == "tenant_id") {
                self.inserts_without_tenant.push(table);
            }
        }
        ControlFlow::Continue(())
    }
}

/// Whether a statement reads or writes rows (DDL, session settings and the like do not).
fn is_data_statement(statement: &Statement) -> bool {
    match statement {
        Statement::Query(query) => !matches!(*query.body, SetExpr::Values(_)),
        Statement::Insert(_) | Statement::Update { .. } | Statement::Delete(_) => true,
        _ => false,
    }
}

/// What in `sql` is not pinned to one tenant; empty when all of it is.
fn unscoped(sql: &str) -> Result<Vec<String>, String> {
    let statements =
        Parser::parse_sql(&PostgreSqlDialect {}, sql).map_err(|err| format!("{err}: {sql}"))?;
    let mut problems = Vec::new();
    for statement in statements.iter().filter(|s| is_data_statement(s)) {
        let mut scoping = Scoping::default();
        let _ = statement.visit(&mut scoping);
        for table in &scoping.inserts_without_tenant {
            if DISTRIBUTED.contains(&table.as_str()) {
                problems.push(format!("INSERT INTO {table} without tenant_id"));
            }
        }
        for occurrence in &scoping.occurrences {
            let distributed = DISTRIBUTED.contains(&occurrence.table.as_str())
                && !scoping.ctes.contains(&occurrence.table);
            if distributed
                && !scoping.pinned.contains(&occurrence.qualifier)
                && !scoping.pinned_bare
            {
                problems.push(format!(
                    "{} ({}) has no tenant_id equality",
                    occurrence.table, occurrence.qualifier
                ));
            }
        }
    }
    Ok(problems)
}

#[test]
fn the_checker_tells_a_pinned_statement_from_a_cross_tenant_one() {
    let pinned = [
        "SELECT o.id FROM objectives o JOIN key_results kr ON kr.tenant_id = o.tenant_id \
         AND kr.objective_id = o.id WHERE o.tenant_id = $1",
        "WITH RECURSIVE sub (id) AS (SELECT id FROM objectives WHERE tenant_id = $1 AND id = $2 \
         UNION ALL SELECT o.id FROM sub JOIN objectives o ON o.tenant_id = $1 AND o.parent_id = sub.id) \
         SELECT * FROM sub",
        "INSERT INTO check_ins (tenant_id, key_result_id, author_id, value) VALUES ($1, $2, $3, $4)",
        r#"SELECT "objectives"."id" FROM "objectives" WHERE "objectives"."tenant_id" = $1"#,
        "UPDATE objectives SET progress = $2 WHERE tenant_id = $1 AND id = $3",
    ];
    for sql in pinned {
        assert_eq!(unscoped(sql), Ok(vec![]), "{sql}");
    }
    let cross = [
        "SELECT count(*) FROM objectives",
        "SELECT o.id FROM objectives o JOIN key_results kr ON kr.objective_id = o.id \
         WHERE o.tenant_id = $1",
        "INSERT INTO teams (name, kind) VALUES ($1, $2)",
        "DELETE FROM milestones WHERE id = $1",
    ];
    for sql in cross {
        assert_ne!(unscoped(sql), Ok(vec![]), "{sql}");
    }
}

#[test]
#[ignore = "reads the statement log of the whole suite: scripts/test runs it after the suite"]
fn every_sql_statement_the_suite_ran_is_pinned_to_one_tenant() {
    let path = std::env::var("GOALGRAPH_SQL_STATEMENT_LOG")
        .expect("GOALGRAPH_SQL_STATEMENT_LOG (scripts/test sets it for the suite)");
    let log = std::fs::read_to_string(&path).expect("the suite's SQL statement log");
    let mut statements: Vec<String> = log
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let entry: Value = serde_json::from_str(line).expect("a JSON line");
            entry["sql"].as_str().expect("sql").to_owned()
        })
        .collect();
    statements.sort();
    statements.dedup();
    assert!(
        statements.len() > 100,
        "only {} statements logged: was the suite run with the log on?",
        statements.len()
    );
    let mut excepted: Vec<&str> = Vec::new();
    let mut problems = Vec::new();
    for sql in &statements {
        if let Some((name, ..)) = CROSS_TENANT
            .iter()
            .find(|(_, fragments, _)| fragments.iter().any(|f| sql.contains(f)))
        {
            excepted.push(name);
            continue;
        }
        match unscoped(sql) {
            Ok(found) if found.is_empty() => {}
            Ok(found) => problems.push(format!("{}\n    in: {sql}", found.join("; "))),
            Err(unparsed) => problems.push(format!("unparsed: {unparsed}")),
        }
    }
    excepted.sort_unstable();
    excepted.dedup();
    eprintln!(
        "{} statements checked; named cross-tenant exceptions met: {}",
        statements.len(),
        excepted.join(", ")
    );
    assert!(
        problems.is_empty(),
        "{} of {} statements are not pinned to a tenant:\n{}",
        problems.len(),
        statements.len(),
        problems.join("\n")
    );
}

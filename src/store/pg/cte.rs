//! Recursive CTE fragments used by more than one statement, written once. Each is the
//! `name (columns) AS (...)` part of a `WITH RECURSIVE` clause and takes the tenant as `$1`
//! and its starting rows as `$2`; statements add their own parameters after those.

/// `sub (id, start_id, depth, path)`: each team of the array `$2` in tenant `$1` (depth 0)
/// and every team below it, with the root it was reached from and the ids on the way (for
/// pre-order sorting). `depth_limit` is an SQL expression bounding the depth, if any.
pub fn team_subtree(depth_limit: Option<&str>) -> String {
    let bound = depth_limit.map_or_else(String::new, |limit| format!("WHERE s.depth < {limit}"));
    format!(
        r#"
        sub (id, start_id, depth, path) AS (
            SELECT id, id, 0, ARRAY[id] FROM teams WHERE tenant_id = $1 AND id = ANY($2)
          UNION ALL
            SELECT t.id, s.start_id, s.depth + 1, s.path || t.id
            FROM sub s JOIN teams t ON t.tenant_id = $1 AND t.parent_id = s.id
            {bound}
        )"#
    )
}

/// `up (id, parent_id, depth)`: objective `$2` of tenant `$1` (depth 0), when it meets
/// `anchor` (a condition on alias `o`, `TRUE` for none), and each of its ancestors up to the
/// root (depth 1, 2, ...).
pub fn objective_ancestry(anchor: &str) -> String {
    format!(
        r#"
        up (id, parent_id, depth) AS (
            SELECT o.id, o.parent_id, 0 FROM objectives o
             WHERE o.tenant_id = $1 AND o.id = $2 AND {anchor}
          UNION ALL
            SELECT o.id, o.parent_id, up.depth + 1
            FROM up JOIN objectives o ON o.tenant_id = $1 AND o.id = up.parent_id
        )"#
    )
}

/// Selects the materialised path (`",1,5,9,"`, root first) of the objective an
/// [`objective_ancestry`] starts from; NULL when it found no row.
pub const ANCESTRY_PATH: &str =
    "SELECT ',' || string_agg(id::text, ',' ORDER BY depth DESC) || ',' AS path FROM up";

//! Every objective keeps how many unarchived objectives hang below it (directly, and in all),
//! so query cost is estimated from what a tree field will really return. The application keeps
//! them current with the roll-ups; `goalgraph_recount_subtrees(tenant)` recomputes a tenant's
//! from scratch (after bulk loads, and here for existing data).

use sea_orm_migration::prelude::*;

const UP: &str = r#"
ALTER TABLE objectives
    ADD COLUMN child_count bigint NOT NULL DEFAULT 0,
    ADD COLUMN descendant_count bigint NOT NULL DEFAULT 0;

-- An archived objective hides its subtree, as tree reads do: a descendant counts for an
-- ancestor when it and everything between them is unarchived.
CREATE FUNCTION goalgraph_recount_subtrees(for_tenant bigint) RETURNS void
LANGUAGE sql AS $$
    WITH RECURSIVE walk (ancestor, depth) AS (
        SELECT parent_id, 1 FROM objectives
        WHERE tenant_id = for_tenant AND parent_id IS NOT NULL AND archived_at IS NULL
      UNION ALL
        SELECT p.parent_id, w.depth + 1
        FROM walk w JOIN objectives p ON p.tenant_id = for_tenant AND p.id = w.ancestor
        WHERE p.parent_id IS NOT NULL AND p.archived_at IS NULL
    ), counts AS (
        SELECT ancestor, count(*) FILTER (WHERE depth = 1) AS children, count(*) AS descendants
        FROM walk GROUP BY ancestor
    ), wanted AS (
        SELECT o.id, coalesce(c.children, 0) AS children, coalesce(c.descendants, 0) AS descendants
        FROM objectives o LEFT JOIN counts c ON c.ancestor = o.id
        WHERE o.tenant_id = for_tenant
    )
    UPDATE objectives o
    SET child_count = wanted.children, descendant_count = wanted.descendants
    FROM wanted
    WHERE o.tenant_id = for_tenant AND o.id = wanted.id
      AND (o.child_count, o.descendant_count) IS DISTINCT FROM (wanted.children, wanted.descendants);
$$;

SELECT goalgraph_recount_subtrees(id) FROM tenants;
"#;

const DOWN: &str = r#"
DROP FUNCTION goalgraph_recount_subtrees(bigint);
ALTER TABLE objectives DROP COLUMN child_count, DROP COLUMN descendant_count;
"#;

crate::sql_migration!("m20261130_000007_subtree_sizes", UP, DOWN);

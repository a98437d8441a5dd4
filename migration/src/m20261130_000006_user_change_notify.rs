//! Replicas cache the users that tokens name; every change or deletion of a user, whoever
//! makes it (the API or an operator's SQL), tells them with a NOTIFY on `goalgraph_users`.

use sea_orm_migration::prelude::*;

const UP: &str = r#"
CREATE FUNCTION goalgraph_notify_user_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- payload '<tenant>:<user>'; delivered at commit, dropped on rollback
    PERFORM pg_notify('goalgraph_users', OLD.tenant_id || ':' || OLD.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION goalgraph_notify_user_change();
"#;

const DOWN: &str = r#"
DROP TRIGGER users_changed ON users;
DROP FUNCTION goalgraph_notify_user_change();
"#;

crate::sql_migration!("m20261130_000006_user_change_notify", UP, DOWN);

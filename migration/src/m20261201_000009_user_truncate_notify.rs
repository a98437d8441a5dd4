//! A `TRUNCATE` of `users` fires no row trigger, so replicas would keep serving the users they
//! cached; it now tells them with a NOTIFY whose payload names no user (`*`), which empties
//! every replica's user cache.

use sea_orm_migration::prelude::*;

const UP: &str = r#"
CREATE FUNCTION goalgraph_notify_users_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- delivered at commit, dropped on rollback
    PERFORM pg_notify('goalgraph_users', '*');
    RETURN NULL;
END
$$;
CREATE TRIGGER users_truncated AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION goalgraph_notify_users_truncated();
"#;

const DOWN: &str = r#"
DROP TRIGGER users_truncated ON users;
DROP FUNCTION goalgraph_notify_users_truncated();
"#;

crate::sql_migration!("m20261201_000009_user_truncate_notify", UP, DOWN);

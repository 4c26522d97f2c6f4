"""Durable state: what must outlive any process (keys, teams, spend history, request records,
policy versions, the audit log), in SQLite (embedded default) or PostgreSQL (several replicas).

`state.DurableState` is what `create_app` builds; `database.Database` is the one code path over
both databases. Its settings (`StoreSettings`) live in `router.settings`, which stays a leaf.
"""

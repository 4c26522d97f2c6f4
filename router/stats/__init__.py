"""Request records, per task x model stats over a sliding window, and quality feedback.

The gateway builds one `StatsStore` with `store.create_stats_store` and calls `record()` after
each response, `snapshot()` and `quality_book.quality()` while routing, and
`quality_book.add_feedback()` from the feedback endpoint.

Nothing is re-exported here: importing one store should not pull in the others.
"""

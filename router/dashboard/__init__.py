"""The dashboard served at /dashboard: wire models of its admin API, the data of each page,
the signed session cookie, Jinja2 templates and the vendored Chart.js (MIT, see static/)."""

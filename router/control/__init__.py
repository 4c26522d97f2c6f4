"""The control plane: policy versions, activation across replicas, what-if, roles and audit.

Domain code only (no fastapi): `router/api/policy_admin.py` is its thin HTTP door.
"""

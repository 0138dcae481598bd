"""The database backend: django-tenants' PostgreSQL backend with a health check that costs no round trip
while the connection is quiet (see base.py)."""

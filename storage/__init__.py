"""Persistence for Stegvis: models, the database connection, migrations and repositories."""

"""Dialogue flows: the definitions administrators edit, and the pure engine that runs them."""

"""The caseworker's daily digest: what happened with their participants since the last one (docs/digest.md)."""

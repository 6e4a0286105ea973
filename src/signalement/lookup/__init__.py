"""A private URL lookup as Safe Browsing does it (docs/lookup.md): hash prefixes, full hashes, batch verdicts."""

"""Compatibility APIs: other services' wire formats on top of our runs (auth, quotas, billing, sandbox)."""

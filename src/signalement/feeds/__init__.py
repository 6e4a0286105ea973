"""Feeds of what the platform confirmed (issue 11): phishing URLs, whole domains, campaigns' origin IPs and sender
domains, in the formats filters use. The writers are pure: entries in, bytes out."""

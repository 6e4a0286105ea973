"""signalement: collect, analyze and share reports of spam, phishing and smishing."""

__version__ = "0.1.0"

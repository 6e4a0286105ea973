"""Feedback loops out: complaints matched to members' subscriptions, made and delivered (docs/feedback-loops.md)."""

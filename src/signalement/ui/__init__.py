"""The web application for people: server-rendered pages (Jinja2, htmx), in French and English."""

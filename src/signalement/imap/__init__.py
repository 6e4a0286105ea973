"""The IMAP poller: watched folders of configured mailboxes (`Settings.imap`), each new message taken in as a
report, then moved, flagged or deleted. See docs/imap.md."""

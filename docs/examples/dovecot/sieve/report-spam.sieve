# signalement: report a message a user moved into Junk (Dovecot IMAPSieve; see docs/imap.md).
# `:copy` keeps the message where the user put it: without it, IMAPSieve would delete it.
require ["vnd.dovecot.pipe", "copy"];

pipe :copy "signalement-report";

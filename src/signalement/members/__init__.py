"""Member organizations at work: the mail they are sent (invitations, a claim's postmaster link), the proofs of
their claims (a DNS TXT record, a postmaster's link) and the evidence staff are shown before approving a claim that
has no owner to ask."""

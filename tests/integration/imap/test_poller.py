"""The IMAP poller against a real Dovecot: messages taken once and moved, flagged or deleted; a restart half way, a
dropped connection and a changed UIDVALIDITY; IDLE and polling; trap and feedback mailboxes; refused messages."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from signalement.imap import mailbox as mailbox_module
from signalement.imap import poller as poller_module
from signalement.imap import position as position_module
from signalement.imap.runner import ImapPollers
from signalement.imap.sources import ImapConfigError
from tests.dovecot import Dovecot
from tests.integration.imap.conftest import REAL, Box, made_up, real_mail, wait_for
from tests.integration.smtp.conftest import forward_as_attachments, phishing

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
Start = Callable[[ImapPollers], ImapPollers]


def test_new_messages_are_taken_once_then_moved(box: Box) -> None:
    box.append(*[real_mail(name) for name in REAL])
    (poller,) = box.pollers().pollers
    tally = poller.once()
    assert (tally.messages, tally.reports, tally.duplicates, tally.refused) == (3, 3, 0, 0)
    stored = box.reports()
    assert len({r.sha256 for r in stored}) == 3
    assert {(r.channel, r.client, r.source, r.trap) for r in stored} == {("imap", "imap", f"box-{box.user}", False)}
    assert {r.submitter for r in stored} == {f"user:{stored[0].reporter_id}"} and stored[0].reporter_id is not None
    assert box.pending_jobs() == 3  # the analyses, and no acknowledgement for the mailbox's owner
    assert box.flags("INBOX") == {}
    moved = box.flags("Reported")
    assert len(moved) == 3 and all({"\\Seen", "$Reported"} <= flags for flags in moved.values())
    assert box.position().last_uid == 3

    again = box.pollers().pollers[0].once()  # a new poller: resumes from the stored position
    assert again.messages == 0 and len(box.reports()) == 3


def test_a_crash_between_commit_and_position_takes_the_batch_again_harmlessly(
    box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poller_module, "BATCH_MESSAGES", 2)
    box.append(*[made_up(n) for n in range(5)])
    real_save, calls = position_module.save, []

    def crash_on_the_third(*args: object) -> None:  # 1: the folder first seen, 2: after batch 1, 3: after batch 2
        calls.append(args)
        if len(calls) == 3:
            raise RuntimeError("killed")
        real_save(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(position_module, "save", crash_on_the_third)
    with pytest.raises(RuntimeError):
        box.pollers().pollers[0].once()
    assert len(box.reports()) == 4 and box.position().last_uid == 2
    monkeypatch.setattr(position_module, "save", real_save)

    tally = box.pollers().pollers[0].once()
    assert (tally.messages, tally.reports, tally.duplicates) == (3, 1, 2)  # batch 2 again, then message 5
    assert len(box.reports()) == 5 and len({r.sha256 for r in box.reports()}) == 5
    assert box.flags("INBOX") == {} and len(box.flags("Reported")) == 5


def test_a_crash_between_position_and_move_finishes_the_move_on_restart(
    box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poller_module, "BATCH_MESSAGES", 2)
    box.append(*[made_up(n) for n in range(5)])
    real_move, calls = mailbox_module.Mailbox.move, []

    def crash_on_the_second(self: mailbox_module.Mailbox, uids: list[int], folder: str) -> None:
        calls.append(uids)
        if len(calls) == 2:
            raise RuntimeError("killed")
        real_move(self, uids, folder)

    monkeypatch.setattr(mailbox_module.Mailbox, "move", crash_on_the_second)
    with pytest.raises(RuntimeError):
        box.pollers().pollers[0].once()
    assert box.position().last_uid == 4 and sorted(box.flags("INBOX")) == [3, 4, 5]
    monkeypatch.setattr(mailbox_module.Mailbox, "move", real_move)

    tally = box.pollers().pollers[0].once()
    assert (tally.messages, tally.reports, tally.duplicates) == (1, 1, 0)  # 3 and 4 are not taken again
    assert len(box.reports()) == 5 and box.flags("INBOX") == {} and len(box.flags("Reported")) == 5


def test_a_restarted_poller_takes_nothing_twice(box: Box, running: Start) -> None:
    box.append(made_up(1), made_up(2))
    first = running(box.pollers(box.source(poll_seconds=0.1, idle=False)))
    wait_for(lambda: len(box.reports()) == 2, "the first two reports")
    first.stop()
    box.append(made_up(3), made_up(2))  # a new one, and the same bytes as one already taken
    second = running(box.pollers(box.source(poll_seconds=0.1, idle=False)))
    wait_for(lambda: second.pollers[0].tally.messages == 2, "the next two messages")
    assert len(box.reports()) == 3 and second.pollers[0].tally.duplicates == 1


def test_a_dropped_connection_is_made_again(box: Box, dovecot: Dovecot, running: Start) -> None:
    pollers = running(box.pollers())
    (poller,) = pollers.pollers
    box.append(made_up(1))
    wait_for(lambda: len(box.reports()) == 1, "the first report")

    dovecot.kick(box.user)  # the server ends the session
    wait_for(lambda: poller.connections == 2 and poller.passes >= 2, "a second session")
    box.append(made_up(2))
    wait_for(lambda: len(box.reports()) == 2, "the report after the kick")

    dovecot.restart()  # the server goes away and comes back
    wait_for(lambda: poller.connections == 3 and poller.passes >= 3, "a third session")
    box.append(made_up(3))
    wait_for(lambda: len(box.reports()) == 3, "the report after the restart")
    assert len(box.flags("Reported")) == 3


def test_a_changed_uidvalidity_takes_the_folder_again_without_reporting_twice(box: Box) -> None:
    folder = "Spam reports"
    box.append(made_up(1), made_up(2), folder=folder)
    source = box.source(folders=[folder])
    assert box.pollers(source).pollers[0].once().reports == 2
    before = box.position(folder).uidvalidity
    with box.client() as client:
        client.delete_folder(folder)
        client.create_folder(folder)
    box.append(made_up(2), made_up(3), made_up(4), folder=folder)  # one of them taken before

    tally = box.pollers(source).pollers[0].once()
    assert box.position(folder).uidvalidity != before and box.position(folder).last_uid == 3
    assert (tally.messages, tally.reports, tally.duplicates) == (3, 2, 1)
    assert len(box.reports()) == 4


@SQLITE_ONLY
def test_idle_takes_a_new_message_without_waiting_for_the_poll(box: Box, running: Start) -> None:
    pollers = running(box.pollers(box.source(idle=True, poll_seconds=3600)))
    wait_for(lambda: pollers.pollers[0].passes >= 1, "the first pass")
    box.append(made_up(1))  # only IDLE can bring it in: the next poll is an hour away
    wait_for(lambda: len(box.reports()) == 1, "the report, through IDLE")


@SQLITE_ONLY
def test_without_idle_the_folder_is_polled(box: Box, running: Start) -> None:
    pollers = running(box.pollers(box.source(idle=False, poll_seconds=0.2)))
    wait_for(lambda: pollers.pollers[0].passes >= 1, "the first pass")
    box.append(made_up(1))
    wait_for(lambda: len(box.reports()) == 1, "the report, by polling")
    assert pollers.pollers[0].connections == 1


@SQLITE_ONLY
def test_flag_mode_leaves_the_message_flagged(box: Box) -> None:
    box.append(made_up(1), made_up(2))
    assert box.pollers(box.source(after="flag")).pollers[0].once().messages == 2
    assert [sorted(f & {"\\Seen", "$Reported"}) for f in box.flags().values()] == [["$Reported", "\\Seen"]] * 2
    assert box.flags("Reported") == {}
    box.append(made_up(3))
    assert box.pollers(box.source(after="flag")).pollers[0].once().messages == 1  # flagged ones are not retaken
    assert len(box.reports()) == 3


@SQLITE_ONLY
def test_delete_mode_expunges_the_message(box: Box) -> None:
    box.append(made_up(1), made_up(2))
    assert box.pollers(box.source(after="delete")).pollers[0].once().messages == 2
    assert box.flags() == {} and box.flags("Reported") == {}
    with box.client() as client:
        assert not client.folder_exists("Reported")
    assert len(box.reports()) == 2


def test_a_trap_mailbox_gives_trap_hits_never_answered(box: Box) -> None:
    box.append(made_up(1), forward_as_attachments(phishing(1), phishing(2)))  # a trap's spam that carries mail: one hit
    source = box.source(name="trap-box", kind="trap", reporter="")
    tally = box.pollers(source).pollers[0].once()
    assert tally.reports == 2
    stored = box.reports()
    assert {(r.submitter, r.reporter_id, r.trap, r.source, r.channel) for r in stored} == {
        ("trap:trap-box", None, True, "trap-box", "imap")
    }
    assert box.pending_jobs() == 2  # the analyses only: no acknowledgement job


@SQLITE_ONLY
def test_a_forward_in_a_reports_mailbox_is_one_report_per_attached_message(box: Box) -> None:
    box.append(forward_as_attachments(phishing(1), phishing(2)))
    assert box.pollers().pollers[0].once().reports == 2
    assert [r.forwarded for r in box.reports()] == ["attached", "attached"]


@SQLITE_ONLY
def test_a_feedback_mailbox_reads_arf_reports(box: Box) -> None:
    box.append(real_mail("arf-yahoo-abuse-fbl-anonymized.eml"), made_up(1))
    source = box.source(name="mbp-complaints", kind="feedback", reporter="")
    assert box.pollers(source).pollers[0].once().reports == 2
    arf, plain = box.reports()
    assert (arf.kind, arf.submitter, arf.source, arf.channel) == (
        "arf",
        "feed:mbp-complaints",
        "mbp-complaints",
        "imap",
    )
    assert arf.feedback == "complaint" and plain.kind == "message"  # Feedback-Type: abuse


@SQLITE_ONLY
def test_a_message_too_big_is_flagged_and_passed_over(box: Box) -> None:
    box.platform.settings.smtp_max_message_bytes = 4096
    box.append(made_up(1), made_up(2, size=8000), made_up(3))
    tally = box.pollers().pollers[0].once()
    assert (tally.messages, tally.refused) == (2, 1)
    assert [sorted(f & {"$SignalementRefused"}) for f in box.flags().values()] == [["$SignalementRefused"]]
    assert box.position().last_uid == 3  # the folder is not blocked by it
    assert box.pollers().pollers[0].once().messages == 0  # nor is it tried again


@SQLITE_ONLY
@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_and_starttls_check_the_certificate(box: Box, dovecot: Dovecot, security: str) -> None:
    box.append(made_up(1))
    port = dovecot.tls_port if security == "tls" else dovecot.port
    untrusted = box.source(security=security, port=port)  # the system's CAs do not know the test's certificate
    ((_, failure),) = box.pollers(untrusted).run_once()
    assert isinstance(failure, str) and "CERTIFICATE_VERIFY_FAILED" in failure
    trusted = box.source(security=security, port=port, ca_file=dovecot.cert)
    ((_, tally),) = box.pollers(trusted).run_once()
    assert not isinstance(tally, str) and tally.reports == 1


@SQLITE_ONLY
def test_what_cannot_run_is_said_at_start(box: Box) -> None:
    with pytest.raises(ImapConfigError, match="no active user"):
        box.pollers(box.source(reporter="nobody@example.org"))
    with pytest.raises(ImapConfigError, match="loopback"):
        box.pollers(box.source(host="imap.example.net"))
    with pytest.raises(ImapConfigError, match="move_to"):
        box.pollers(box.source(folders=["INBOX", "Reported"]))
    with pytest.raises(ImapConfigError, match="distinct names"):
        ImapPollers(box.platform, [box.source(), box.source(folders=["Other"])])

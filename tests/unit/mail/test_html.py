"""HTML facts: visible text, title, alts, URL places, forms, mailto/tel, and hostile markup."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalement.mail.html import Form, read_html

PAGE = """<html><head><title> Your   account &amp; security </title>
<base href="https://example.com/dir/">
<style>.x { background: url('bg.png') } @import "https://cdn.example.net/a.css";</style>
<meta http-equiv="Refresh" content="0; URL='https://redirect.example.org/go'">
<script>var hidden = "script text";</script></head>
<body><div>Pay<span>Pal</span></div><p>Dear customer,</p><p>Please <a href="login.php?a=1&amp;b=2">log in</a></p>
<a href="mailto:help@example.com,other@example.com?subject=x">mail</a> <a href="tel:+33%201%2023">call</a>
<a href="javascript:void(0)">js</a> <a href="#top">top</a> <img src="cid:part1"> <img src="data:image/png;base64,AA">
<img src="/logo.png" alt="Bank logo" srcset="s.png 1x, https://img.example.com/l.png 2x">
<table><tr><td background="cell.jpg">cell1</td><td>cell2</td></tr></table>
<div style="background-image: url(&quot;https://style.example.com/x.png&quot;)">styled</div>
<form action="https://collect.example.net/post" method="POST"><input type="PassWord" name="pw"></form>
<iframe src="//frame.example.com/f"></iframe><map><area href="https://area.example.com/"></map>
<script>document.write('more hidden')</script><template>template text</template>
</body></html>"""


def test_page_facts() -> None:
    facts = read_html(PAGE)
    assert facts.title == "Your account & security"
    assert facts.base == "https://example.com/dir/"
    assert facts.text == "PayPal Dear customer, Please log in mail call js top cell1 cell2 styled"
    assert facts.image_alts == ("Bank logo",)
    assert facts.mailto == ("help@example.com", "other@example.com")
    assert facts.tel == ("+33 1 23",)
    assert facts.has_password_input
    assert facts.forms == (Form(action="https://collect.example.net/post", method="post", has_password=True),)
    assert set(facts.urls) == {
        ("https://example.com/dir/", "html:base"),
        ("https://example.com/dir/login.php?a=1&b=2", "html:a"),
        ("https://area.example.com/", "html:area"),
        ("https://example.com/logo.png", "html:img"),
        ("https://example.com/dir/s.png", "html:img"),
        ("https://img.example.com/l.png", "html:img"),
        ("https://example.com/dir/cell.jpg", "html:background"),
        ("https://frame.example.com/f", "html:iframe"),
        ("https://collect.example.net/post", "html:form"),
        ("https://redirect.example.org/go", "html:meta-refresh"),
        ("https://style.example.com/x.png", "html:css"),
        ("https://example.com/dir/bg.png", "html:css"),
        ("https://cdn.example.net/a.css", "html:css"),
    }
    assert facts.as_json()["urls"][0] == ["https://example.com/dir/", "html:base"]
    assert facts.forms[0].as_json() == {
        "action": "https://collect.example.net/post",
        "method": "post",
        "has_password": True,
    }


def test_ignored_schemes_never_become_urls() -> None:
    facts = read_html(PAGE)
    assert not any(url.startswith(("mailto:", "tel:", "cid:", "data:", "javascript:")) for url, _ in facts.urls)


def test_without_base_only_urls_that_name_a_host_are_kept() -> None:
    facts = read_html(
        '<a href="www.example.com/x">a</a><a href="index.html">b</a><a href="/abs">c</a>'
        '<a href="invoice.zip">d</a><a href="example.org/login">e</a><a href="//cdn.example.com/y">f</a>'
    )
    assert facts.urls == (
        ("www.example.com/x", "html:a"),
        ("example.org/login", "html:a"),
        ("http://cdn.example.com/y", "html:a"),
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("0; url=https://example.com/a", "https://example.com/a"),
        ("5;URL='https://example.com/b'", "https://example.com/b"),
        ('0; URL="https://example.com/c"', "https://example.com/c"),
        ("0;https://example.com/d", "https://example.com/d"),
    ],
)
def test_meta_refresh_forms(content: str, expected: str) -> None:
    facts = read_html(f"<meta http-equiv='refresh' content=\"{content.replace(chr(34), '&quot;')}\">")
    assert facts.urls == ((expected, "html:meta-refresh"),)


def test_forms_without_action_and_password_outside_forms() -> None:
    facts = read_html("<form><input type=text></form><input type=password>")
    assert facts.forms == (Form(action=None, method="get", has_password=False),)
    assert facts.has_password_input


def test_block_elements_separate_words_and_inline_ones_do_not() -> None:
    text = read_html("<p>one</p><p>two</p>three<br>four<b>fi</b>ve<li>six</li>").text
    assert text == "one two three fourfive six"


def test_whitespace_before_a_block_tag_separates_words_already() -> None:
    text = read_html("a\n<p>b</p>\n<div>c</div> <td>d</td>\t<br>e<pre>\n<p>f</pre><textarea>\n<p>g</textarea>").text
    assert text == "a b c d e f <p>g"
    assert read_html("<table><tr><td>a</td>\n<td>b</td></tr></table>x<DIV>y</DIV>z").text == "a b x y z"


def test_background_attributes_in_any_case_come_after_the_other_places() -> None:
    facts = read_html(
        "<table BACKGROUND='https://bg.example.com/t.png'><tr><td>x</td></tr></table>"
        "<img src='https://img.example.com/a.png' alt='Logo' background='https://bg.example.com/i.png'>"
    )
    assert facts.urls == (
        ("https://img.example.com/a.png", "html:img"),
        ("https://bg.example.com/t.png", "html:background"),
        ("https://bg.example.com/i.png", "html:background"),
    )
    assert facts.image_alts == ("Logo",)  # the image is read once, though two selectors find it


def test_css_urls_in_any_encoding_and_length() -> None:
    long = "é" * 5000
    facts = read_html(
        "<div style='background:url(\u00a0https://nbsp.example.com/a.png\u00a0)'>x</div>"
        '<div style="background:url(&quot;https://q.example.com/été.png&quot;)">y</div>'
        f"<div style='background:url(\"https://long.example.com/{long}\")'>z</div>"
        "<style>@import\u2003'https://import.example.com/a.css';</style>"
        "<p>uRl(https://ignored.example.com/) URL(https://upper.example.com/x.png)</p>"
    )
    assert facts.urls == (
        ("https://nbsp.example.com/a.png", "html:css"),
        ("https://q.example.com/été.png", "html:css"),
        ("https://upper.example.com/x.png", "html:css"),
        ("https://import.example.com/a.css", "html:css"),
    )


def test_the_first_title_and_the_first_base_count() -> None:
    facts = read_html("<body><title>In body</title><base><base href='https://b.example.com/'><a href=x>x</a>")
    assert facts.title == "In body"
    assert facts.base == "https://b.example.com/"
    assert ("https://b.example.com/x", "html:a") in facts.urls
    assert read_html("<title> </title><body><title>Second</title>").title is None


def test_no_title_and_empty_documents() -> None:
    for document in ("", "   ", "plain text, no tags", "<html></html>", b"\xff\xfe\x00<p>x"):
        facts = read_html(document)
        assert facts.title is None
        assert facts.urls == ()


def test_lone_surrogates_and_bytes_do_not_raise() -> None:
    facts = read_html("<a href='https://example.com/\udc80x'>a\ud800b</a>")
    assert facts.urls == (("https://example.com/\ufffd\ufffd\ufffdx", "html:a"),)  # one U+FFFD a byte
    assert facts.text == "a\ufffd\ufffd\ufffdb"


def test_counts_are_capped() -> None:
    facts = read_html("".join(f"<a href='https://example.com/{i}'>x</a>" for i in range(5000)))
    assert len(facts.urls) == 2000


def test_deep_nesting_is_not_quadratic() -> None:
    # Lexbor checks the open-element stack at each block start tag: 100,000 nested <div> took 19 s before the
    # depth cap; now a few hundredths.
    started = time.perf_counter()
    facts = read_html("<div>" * 100_000 + "<a href='https://example.com/deep'>deep</a>")
    assert time.perf_counter() - started < 2
    assert facts.urls == (("https://example.com/deep", "html:a"),)
    assert facts.text == "deep"


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_never_raises(document: str | bytes) -> None:
    facts = read_html(document)
    assert isinstance(facts.text, str)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(["<a href='", "<img src=", "<base href=", "'>", "https://", "x.example.com", "<form", "<"]),
        max_size=30,
    )
)
def test_never_raises_on_markup_soup(pieces: list[str]) -> None:
    read_html("".join(pieces))

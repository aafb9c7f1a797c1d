"""Sending over SMTP (kbc_tui/engine/mail.py) against the local test servers: each way a server can fail is said in
words a user can act on, TLS without verification, the sender address, and the test e-mail. Fast: no engine, no
job (they run first in tools/mutation.py's notifier group)."""

from __future__ import annotations

import re
import socket

import pytest

from kbc_tui.engine.mail import MailError, send_test_email
from kbc_tui.store.project import Project
from tests.helpers.projects import project
from tests.servers.smtp import BrokenStartTlsServer, SilentServer, SmtpServer, free_port


def load(tmp_path, **smtp) -> Project:
    root = project(tmp_path / "p", smtp={"host": "127.0.0.1", "from": "kbc@example.com", "timeout_seconds": 3,
                                         **smtp})
    return Project.load(root)


async def failure(p: Project, to: str = "me@example.com") -> str:
    with pytest.raises(MailError) as raised:
        await send_test_email(p.settings, p.secrets, to)
    return str(raised.value)


async def test_the_test_e_mail_says_what_it_is(tmp_path):
    with SmtpServer() as server:
        p = load(tmp_path, port=server.port)
        await send_test_email(p.settings, p.secrets, "me@example.com")
        [mail] = server.wait_for(1)
    assert mail.recipients == ["me@example.com"] and mail.sender == "kbc@example.com"
    assert mail.subject == "[kbc-tui] Test e-mail from engine test"
    assert "If you can read it, notifications will reach you." in mail.body()


async def test_without_from_the_sender_is_the_login_if_it_is_an_address_else_kbc_tui_at_this_host(tmp_path):
    with SmtpServer(users={"bot@example.com": "pw", "bot": "pw"}) as server:
        for user in ("bot@example.com", "bot"):
            root = project(tmp_path / user, smtp={"host": "127.0.0.1", "port": server.port, "username": user,
                                                  "#password": "env:KBC_TEST_SMTP_PW", "timeout_seconds": 3})
            p = Project.load(root)
            await send_test_email(p.settings, p.secrets, "me@example.com", password="pw")
        anon = Project.load(project(tmp_path / "anon", smtp={"host": "127.0.0.1", "port": server.port}))
        assert anon.settings.smtp.from_address == anon.settings.smtp.username == ""
        by_login, plain_login = server.wait_for(2)
    with SmtpServer() as open_server:
        anon.settings.smtp.port = open_server.port
        await send_test_email(anon.settings, anon.secrets, "me@example.com")
        [nameless] = open_server.wait_for(1)
    assert by_login.sender == "bot@example.com" and by_login.message["From"] == "bot@example.com"
    assert plain_login.sender == f"kbc-tui@{socket.gethostname()}"
    assert nameless.sender == f"kbc-tui@{socket.gethostname()}"


async def test_verify_false_accepts_a_certificate_nobody_signed(tmp_path):
    with SmtpServer(security="starttls", cert_dir=tmp_path / "tls") as server:
        p = load(tmp_path, port=server.port, security="starttls", verify=False)
        await send_test_email(p.settings, p.secrets, "me@example.com")
        [mail] = server.wait_for(1)
    assert mail.recipients == ["me@example.com"]


async def test_an_untrusted_certificate_is_named_with_the_reason(tmp_path):
    with SmtpServer(security="starttls", cert_dir=tmp_path / "tls") as server:
        p = load(tmp_path, port=server.port, security="starttls")
        said = await failure(p)
    assert said == (f"SMTP server 127.0.0.1:{server.port}: its TLS certificate is not trusted (self-signed "
                    "certificate); set [smtp] ca_file to the CA certificate that signed it, or verify = false")


async def test_a_ca_file_outside_the_project_is_refused_before_connecting(tmp_path):
    (tmp_path / "ca.pem").write_text("not used")
    with SmtpServer(security="starttls", cert_dir=tmp_path / "tls") as server:
        p = load(tmp_path, port=server.port, security="starttls", ca_file="../ca.pem")
        said = await failure(p)
        assert server.connections == 0
    assert said.startswith("[smtp] ca_file: ") and "../ca.pem" in said


async def test_a_ca_file_that_is_not_certificates_says_so(tmp_path):
    with SmtpServer(security="starttls", cert_dir=tmp_path / "tls") as server:
        p = load(tmp_path, port=server.port, security="starttls", ca_file="ca.pem")
        (tmp_path / "p" / "ca.pem").write_text("this is not a certificate\n")
        said = await failure(p)
    assert said.startswith("[smtp] ca_file 'ca.pem': cannot read the CA certificates: "), said


async def test_no_smtp_server_configured_is_said_as_such(tmp_path):
    p = Project.load(project(tmp_path / "p"))
    said = await failure(p)
    assert said.startswith("no SMTP server is configured: set [smtp] host in kbc.toml")


async def test_a_missing_password_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("KBC_TEST_NO_SUCH_PW", raising=False)
    with SmtpServer(security="starttls", cert_dir=tmp_path / "tls", users={"kbc": "pw"}) as server:
        p = load(tmp_path, port=server.port, security="starttls", ca_file=str(server.cert), username="kbc",
                 **{"#password": "env:KBC_TEST_NO_SUCH_PW"})
        said = await failure(p)
        assert server.messages == []
    assert "KBC_TEST_NO_SUCH_PW" in said and "[smtp] #password" in said


async def test_connection_refused_says_the_server_is_not_there(tmp_path):
    port = free_port()
    said = await failure(load(tmp_path, port=port))
    assert said == (f"cannot connect to SMTP server 127.0.0.1:{port}: connection refused (is the server running, "
                    "and is this its port?)")


async def test_a_server_that_hangs_up_at_once_is_said_with_the_reason(tmp_path):
    with SilentServer(greeting=b"") as closing:
        said = await failure(load(tmp_path, port=closing.port))
    assert said.startswith(f"cannot connect to SMTP server 127.0.0.1:{closing.port}: ")
    assert "Unexpected EOF" in said and not said.endswith("None")


async def test_a_server_that_hangs_up_after_its_greeting(tmp_path):
    with SilentServer(greeting=b"220 hello\r\n") as closing:
        said = await failure(load(tmp_path, port=closing.port))
    assert said.startswith(f"SMTP server 127.0.0.1:{closing.port} closed the connection: "), said


async def test_implicit_tls_on_a_plain_port_hints_at_the_port(tmp_path):
    with SmtpServer() as server:
        said = await failure(load(tmp_path, port=server.port, security="tls"))
    assert said.startswith(f"SMTP server 127.0.0.1:{server.port}: TLS failed: ")
    assert said.endswith(" (is the port right? 465 is usually 'tls', 587 'starttls')")


async def test_starttls_on_a_server_without_it(tmp_path):
    with SmtpServer() as server:
        said = await failure(load(tmp_path, port=server.port, security="starttls"))
    assert said == f"SMTP server 127.0.0.1:{server.port}: SMTP STARTTLS extension not supported by server."


async def test_a_refused_recipient_is_named_with_the_server_s_answer(tmp_path):
    with SmtpServer(refuse_recipients=("gone@example.com",)) as server:
        said = await failure(load(tmp_path, port=server.port), to="gone@example.com")
    assert said == (f"SMTP server 127.0.0.1:{server.port} refused every recipient: gone@example.com "
                    "(550 5.1.1 no such mailbox here)")


async def test_a_refused_sender_is_named_with_the_server_s_answer(tmp_path):
    with SmtpServer(refuse_senders=("kbc@example.com",)) as server:
        said = await failure(load(tmp_path, port=server.port))
    assert said == (f"SMTP server 127.0.0.1:{server.port} refused the sender address 'kbc@example.com': "
                    "553 5.7.1 sender not allowed here")


async def test_a_message_the_server_refuses_says_its_answer(tmp_path):
    with SmtpServer(data_reply="554 5.7.1 message looks like spam") as server:
        said = await failure(load(tmp_path, port=server.port))
    assert said == f"SMTP server 127.0.0.1:{server.port} answered 554: 5.7.1 message looks like spam"


async def test_a_failed_starttls_handshake_says_tls_failed_without_the_port_hint(tmp_path):
    with BrokenStartTlsServer() as server:
        said = await failure(load(tmp_path, port=server.port, security="starttls"))
    assert re.fullmatch(rf"SMTP server 127\.0\.0\.1:{server.port}: TLS failed: .*wrong version number "
                        r"\(_ssl\.c:\d+\)", said), said


async def test_a_non_ascii_address_on_a_server_that_takes_only_ascii(tmp_path):
    with SmtpServer(smtputf8=False) as server:
        said = await failure(load(tmp_path, port=server.port), to="ánna@example.com")
        assert server.messages == []
    # said as the server's limit, not as a wrong [smtp] security (aiosmtplib's "not supported" is only this case)
    assert said == (f"SMTP server 127.0.0.1:{server.port}: An address containing non-ASCII characters was provided, "
                    "but SMTPUTF8 is not supported by this server")

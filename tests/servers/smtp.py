"""A real SMTP server on 127.0.0.1 for the tests (aiosmtpd in its own thread): plain, STARTTLS or implicit
TLS with a self-signed certificate, optional AUTH; and a port where nothing listens, and one that never answers."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """cert.pem and key.pem for localhost / 127.0.0.1, signed by itself."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def body(self, subtype: str = "plain") -> str:
        part = self.message.get_body(preferencelist=(subtype,))
        return part.get_content() if part is not None else ""


@dataclass
class _Inbox:
    messages: list[Received] = field(default_factory=list)
    connections: int = 0
    refuse_recipients: set[str] = field(default_factory=set)  # RCPT TO answered 550
    refuse_senders: set[str] = field(default_factory=set)  # MAIL FROM answered 553
    data_reply: str | None = None  # DATA answered this instead of 250 (e.g. "554 ...")

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if address in self.refuse_senders:
            return "553 5.7.1 sender not allowed here"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse_recipients:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SmtpServer:
    """``with SmtpServer(...) as server:`` then ``server.port``, ``server.messages``, ``server.wait_for(n)``.
    ``refuse_recipients`` / ``refuse_senders``: addresses it refuses; ``data_reply``: its answer to DATA instead of
    accepting the message; ``smtputf8=False``: a server that takes only ASCII addresses."""

    def __init__(self, *, security: str = "none", cert_dir: Path | None = None,
                 users: dict[str, str] | None = None, port: int | None = None,
                 refuse_recipients: tuple[str, ...] = (), refuse_senders: tuple[str, ...] = (),
                 data_reply: str | None = None, smtputf8: bool = True) -> None:
        self.security = security
        self.port = port or free_port()
        self.inbox = _Inbox(refuse_recipients=set(refuse_recipients), refuse_senders=set(refuse_senders),
                            data_reply=data_reply)
        self.users = users
        self.cert = None
        context = None
        if security in ("starttls", "tls"):
            assert cert_dir is not None
            self.cert, key = self_signed_cert(cert_dir)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.cert, key)
        kwargs: dict = {"enable_SMTPUTF8": smtputf8}
        if users is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=security == "starttls")  # (implicit TLS is not seen by aiosmtpd)
        if security == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        elif security == "tls":
            kwargs.update(ssl_context=context)
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and self.users is not None:
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if self.users.get(login) == password:
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    @property
    def messages(self) -> list[Received]:
        return self.inbox.messages

    @property
    def connections(self) -> int:
        return self.inbox.connections

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.messages)

    def __enter__(self) -> "SmtpServer":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


class SilentServer:
    """Accepts TCP connections and never says a word (an SMTP server that hangs). ``greeting``: say these bytes
    and close the connection at once instead (``b""``: close without a word)."""

    def __init__(self, greeting: bytes | None = None) -> None:
        self.greeting = greeting
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.greeting is None:
                self.held.append(conn)
                continue
            try:
                conn.sendall(self.greeting)
            except OSError:
                pass
            conn.close()

    def __enter__(self) -> "SilentServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


class BrokenStartTlsServer:
    """Offers STARTTLS, agrees to it, then answers the TLS handshake with plain text (a broken TLS setup)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 broken.example ESMTP\r\n")
            for line in lines:
                command = line.strip().upper()
                if command.startswith((b"EHLO", b"HELO")):
                    conn.sendall(b"250-broken.example\r\n250 STARTTLS\r\n")
                elif command == b"STARTTLS":
                    conn.sendall(b"220 go ahead\r\n")
                    conn.settimeout(5)
                    conn.recv(4096)  # the client's hello, answered with plain text
                    conn.sendall(b"this is not TLS\r\n" * 4)
                    try:
                        while conn.recv(4096):  # until the client gives up and closes
                            pass
                    except OSError:
                        pass
                    return
                else:
                    conn.sendall(b"502 not here\r\n")

    def __enter__(self) -> "BrokenStartTlsServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()

"""Sending e-mail over SMTP with aiosmtplib (``[smtp]`` in ``kbc.toml``), failures said in words.

``send_mail`` raises ``MailError`` whose text names the server and what went wrong (cannot connect,
no answer within the timeout, certificate not trusted, login refused, recipient refused) and never
contains the password.
"""

from __future__ import annotations

import socket
import ssl
from email.message import EmailMessage

from kbc_tui.errors import KbcError
from kbc_tui.model.project import ProjectSettings, SmtpSettings
from kbc_tui.store.secrets import Masker, Secrets


class MailError(KbcError):
    """The e-mail was not sent; the message says why, for a person."""


def sender_address(smtp: SmtpSettings) -> str:
    if smtp.from_address:
        return smtp.from_address
    if "@" in smtp.username:
        return smtp.username
    return f"kbc-tui@{socket.gethostname() or 'localhost'}"  # (getfqdn would block on reverse DNS)


def smtp_password(smtp: SmtpSettings, secrets: Secrets) -> str:
    """The plain SMTP password (``#password``: encrypted or ``env:VAR``)."""
    try:
        return secrets.resolve(smtp.password, where="[smtp] #password")
    except KbcError as exc:
        raise MailError(str(exc)) from None


def _tls_context(smtp: SmtpSettings) -> ssl.SSLContext:
    if not smtp.verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        ca_path = smtp.ca_path
    except KbcError as exc:  # a relative ca_file that leaves the project
        raise MailError(f"[smtp] ca_file: {exc}") from None
    try:
        return ssl.create_default_context(cafile=str(ca_path) if ca_path else None)
    except (OSError, ssl.SSLError) as exc:
        raise MailError(f"[smtp] ca_file {smtp.ca_file!r}: cannot read the CA certificates: {exc}") from None


async def send_mail(smtp: SmtpSettings, password: str, message: EmailMessage) -> dict[str, str]:
    """Send ``message`` (To/From set by the caller). Returns the recipients the server refused (if some
    were accepted); raises ``MailError`` when none were, or the server could not be used."""
    import aiosmtplib

    if not smtp.configured:
        raise MailError("no SMTP server is configured: set [smtp] host in kbc.toml (or press S on the home screen)")
    where = f"SMTP server {smtp.host}:{smtp.port}"
    masker = Masker([password])
    tls = smtp.security in ("tls", "starttls")
    try:
        errors, _ = await aiosmtplib.send(
            message, hostname=smtp.host, port=smtp.port, timeout=smtp.timeout_seconds,
            use_tls=smtp.security == "tls", start_tls=smtp.security == "starttls",
            tls_context=_tls_context(smtp) if tls else None, validate_certs=smtp.verify,
            username=smtp.username or None, password=(password or None) if smtp.username else None)
    except MailError:
        raise
    except Exception as exc:  # every failure becomes words; nothing escapes to the caller's job
        raise MailError(masker(describe_failure(exc, where, smtp))) from None
    return {address: f"{resp.code} {resp.message}" for address, resp in errors.items()}


def describe_failure(exc: BaseException, where: str, smtp: SmtpSettings) -> str:
    import aiosmtplib

    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, ssl.SSLCertVerificationError) or isinstance(cause, ssl.SSLCertVerificationError):
        detail = getattr(exc if isinstance(exc, ssl.SSLError) else cause, "verify_message", "") or str(cause or exc)
        return (f"{where}: its TLS certificate is not trusted ({detail}); set [smtp] ca_file to the CA "
                "certificate that signed it, or verify = false")
    if isinstance(exc, (ssl.SSLError,)) or isinstance(cause, ssl.SSLError):
        hint = " (is the port right? 465 is usually 'tls', 587 'starttls')" if smtp.security == "tls" else ""
        return f"{where}: TLS failed: {cause or exc}{hint}"
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return f"{where} refused the login of user {smtp.username!r}: {exc.code} {exc.message}"
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = ", ".join(f"{e.recipient} ({e.code} {e.message})" for e in exc.recipients)
        return f"{where} refused every recipient: {refused}"
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return f"{where} refused the sender address {exc.sender!r}: {exc.code} {exc.message}"
    if isinstance(exc, (aiosmtplib.SMTPConnectTimeoutError, aiosmtplib.SMTPTimeoutError, TimeoutError)):
        return f"{where} did not answer within {smtp.timeout_seconds:g} s"
    if isinstance(exc, aiosmtplib.SMTPConnectError):
        if isinstance(cause, ConnectionRefusedError):
            reason = "connection refused (is the server running, and is this its port?)"
        else:
            reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(exc)
        return f"cannot connect to {where}: {reason}"
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return f"{where} closed the connection: {exc}"
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{where} answered {exc.code}: {exc.message}"
    if isinstance(exc, aiosmtplib.SMTPException):
        return f"{where}: {exc}"
    if isinstance(exc, OSError):
        return f"cannot connect to {where}: {exc.strerror or exc}"
    return f"{where}: {type(exc).__name__}: {exc}"


async def send_test_email(settings: ProjectSettings, secrets: Secrets, to: str, *, password: str | None = None) -> None:
    """Send a short test message to ``to``; raises ``MailError`` saying why it failed. ``password``: a plain
    one to use instead of the stored ``#password`` (the settings screen's unsaved field)."""
    from kbc_tui.model.validate import check_email

    problem = check_email(to)
    if problem:
        raise MailError(problem)
    smtp = settings.smtp
    if password is None:
        password = smtp_password(smtp, secrets)
    message = EmailMessage()
    message["Subject"] = f"[kbc-tui] Test e-mail from {settings.name}"
    message["From"] = sender_address(smtp)
    message["To"] = to
    message.set_content(f"This is a test e-mail from kbc-tui (project {settings.name!r} on "
                        f"{socket.gethostname()}).\nIf you can read it, notifications will reach you.\n")
    refused = await send_mail(smtp, password, message)
    if refused:
        raise MailError("; ".join(f"{a} refused: {r}" for a, r in refused.items()))
